"""Telegram inbound: Update JSON (text messages and button presses) through the webhook, against the ceiling.

    python -m bench inbound --channel=telegram [--workers=4] [--seconds=15] [--concurrency=32] [--rate=300]

The same load as the SMS benchmark: each chat says the keyword first (not measured), then
presses the consent button (a callback_query naming its run, read from the database) and
types its answers. The app acknowledges each button press to a fake Bot API
(bot/sandbox/telegram_server.py, in its own process) after the response.
"""
from __future__ import annotations

import itertools
import json
import multiprocessing
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from bench.inbound import fresh, measure, measure_floor, report, service_env, statements_per_answer
from bench.load import Request, Web, free_port
from store.models import Address, Run

PATH = "/webhooks/telegram"
TOKEN = "123456:BENCH-token-for-the-fake"
SECRET = "bench-webhook-secret"
ANSWERS = ["2", "Netteswell", "1 3", "no", "PANEL", "yes"]


def _fake_telegram(port_out) -> None:
    from bot.sandbox.telegram_server import FakeTelegram, TelegramServer

    server = TelegramServer(FakeTelegram(token=TOKEN, username="bench_bot"))
    port_out.put(server.server_address[1])
    server.serve_forever(poll_interval=0.05)


def _update(update_id: int, chat: int, text: str | None = None, data: str | None = None) -> dict:
    sender = {"id": chat, "is_bot": False, "first_name": "Resident", "language_code": "en"}
    chat_obj = {"id": chat, "first_name": "Resident", "type": "private"}
    if data is None:
        return {"update_id": update_id, "message": {"message_id": update_id, "from": sender, "chat": chat_obj,
                                                    "date": 1796205600, "text": text}}
    return {"update_id": update_id, "callback_query": {
        "id": f"cbq-{update_id}", "from": sender, "chat_instance": str(chat), "data": data,
        "message": {"message_id": 1, "from": {"id": 1, "is_bot": True, "first_name": "Bot"}, "chat": chat_obj,
                    "date": 1796205601, "text": "Do you agree?"}}}


def _request(update: dict, key: int) -> Request:
    return Request(PATH, json.dumps(update).encode(),
                   {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}, key)


def run(workers: int = 4, seconds: int = 15, concurrency: int = 32, rate: int = 300, residents: int = 3000,
        processing: str = "worker", inbound_workers: int = 2, database: str = "postgresql",
        worker_class: str | None = None, threads: int = 4) -> dict:
    web = Web(workers, worker_class or ("sync" if database == "sqlite" else "gthread"), threads)
    port_out = multiprocessing.Queue()
    fake = multiprocessing.Process(target=_fake_telegram, args=(port_out,), daemon=True)
    fake.start()
    api_url = f"http://127.0.0.1:{port_out.get(timeout=30)}"
    ids = itertools.count(1)
    chats = [7_000_000_000 + i for i in range(residents)]
    rounds = max(2, int(max(rate, 2000) * seconds / residents) + 2)
    db, url = fresh(database)
    port = free_port()
    env = service_env(url, f"http://127.0.0.1:{port}", processing)
    env.update({"OUTREACH_TELEGRAM_TOKEN": TOKEN, "OUTREACH_TELEGRAM_SECRET": SECRET,
                "OUTREACH_TELEGRAM_API_URL": api_url, "OUTREACH_TELEGRAM_BOT_USERNAME": "bench_bot"})
    log = Path(tempfile.gettempdir()) / "bench-inbound-telegram.log"

    def runs_by_chat() -> dict[int, int]:
        with db.session() as s:
            rows = s.execute(select(Address.address, func.max(Run.id)).join(Run, Run.address_id == Address.id)
                             .where(Address.channel == "telegram").group_by(Address.address)).all()
        return {int(chat): run_id for chat, run_id in rows}

    def make() -> list[Request]:
        runs = runs_by_chat()
        out = []
        for round_ in range(rounds):
            for n, chat in enumerate(chats):
                if round_ == 0:
                    data = f"a:{runs.get(chat, 1)}:consent:yes"
                    out.append(_request(_update(next(ids), chat, data=data), n))
                else:
                    out.append(_request(_update(next(ids), chat, ANSWERS[(round_ - 1) % len(ANSWERS)]), n))
        return out

    def warm() -> list[Request]:
        return [_request(_update(next(ids), chat, "PANEL"), n) for n, chat in enumerate(chats)]

    try:
        bare_max, bare_fixed = measure("bench.bare_app:create_app()", env, port, web, make, seconds,
                                       concurrency, rate, log, warm())
        floor_max, floor_fixed = measure_floor(database, env, port, web, make, seconds, concurrency, rate,
                                               log, warm())
        db, url = fresh(database)
        app_max, app_fixed = measure("app:create_app()", env, port, web, make, seconds, concurrency, rate,
                                     log, warm(), db=db, inbound_workers=inbound_workers)
    finally:
        fake.terminate()
    statements = statements_per_answer(database, "telegram")
    return report("inbound-telegram", "updates", db, app_max, app_fixed, bare_max, bare_fixed, floor_max,
                  floor_fixed, statements, rate=rate, web=web, concurrency=concurrency,
                  processing=processing, inbound_workers=inbound_workers, database=database,
                  command=f"python -m bench inbound --channel=telegram --database={database} "
                          f"--processing={processing} "
                          f"{web.describe()} --inbound-workers={inbound_workers} --seconds={seconds} "
                          f"--concurrency={concurrency} --rate={rate}")
