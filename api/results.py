"""/flows/{flow_id}/results and /flows/{flow_id}/runs: counts per question, and runs page by page."""
from __future__ import annotations

import re

from sqlalchemy import select

from api.http import audit, bp, not_found, page, page_args, services
from engage import results
from store.models import Answer, FlowVersion, Run

_FLOW_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


def _source(s, flow_id: str) -> str | None:
    if not _FLOW_ID.match(flow_id):
        return None
    flow = services().registry.get(flow_id)
    if flow is not None:
        return flow.source
    return s.scalar(select(FlowVersion.source).where(FlowVersion.flow_id == flow_id)
                    .order_by(FlowVersion.id.desc()).limit(1))


@bp.get("/flows/<flow_id>/results")
def flow_results(flow_id: str):
    with services().db.session() as s:
        source = _source(s, flow_id)
        if source is None:
            raise not_found("flow")
        questions = []
        for step in results.flow_steps(source):
            if not step.is_question:
                continue
            result = results.question_result(s, flow_id, step)
            questions.append({
                "step_id": step.id, "question": step.question, "kind": step.kind,
                "answered": result.answered, "skipped": result.skipped,
                # count is null where a small special-category group is suppressed.
                "counts": [{"value": c.value, "label": c.label, "count": c.count} for c in result.counts],
            })
        return {"flow_id": flow_id, "summary": results.summary(s, flow_id), "questions": questions}


def _run_as_dict(run: Run) -> dict:
    return {
        "id": run.id, "flow_id": run.flow_id, "contact_id": run.contact_id, "status": run.status,
        "channel": run.channel, "language": run.language, "started_by": run.started_by,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "answers": [{"step_id": a.step_id, "value": a.value, "skipped": a.skipped,
                     "answered_at": a.answered_at.isoformat()} for a in getattr(run, "_answers", [])],
    }


@bp.get("/flows/<flow_id>/runs")
def flow_runs(flow_id: str):
    """Runs page by page; answers to special-category questions are left out (they leave only as counts)."""
    limit, after = page_args()
    with services().db.session() as s:
        if _source(s, flow_id) is None:
            raise not_found("flow")
        special = {step for _flow, step in results.special_steps(s, [flow_id])}
        special |= {st.id for st in results.flow_steps(_source(s, flow_id)) if st.special_category}
        runs = list(s.scalars(select(Run).where(Run.flow_id == flow_id, Run.id > after).order_by(Run.id)
                              .limit(limit + 1)))
        shown = runs[:limit]
        answers: dict[int, list[Answer]] = {}
        if shown:
            for answer in s.scalars(select(Answer).where(Answer.run_id.in_([r.id for r in shown]),
                                                         Answer.step_id.not_in(special or [""]))
                                    .order_by(Answer.answered_at, Answer.id)):
                answers.setdefault(answer.run_id, []).append(answer)
        for run in shown:
            run._answers = answers.get(run.id, [])
        body = page(runs, limit, _run_as_dict)
        audit(s, "export.downloaded", target_type="flow", target_id=flow_id,
              detail={"what": "runs", "format": "json", "rows": len(body["data"]), "after": after},
              summary=f"Read {len(body['data'])} runs of {flow_id} through the API")
        return body
