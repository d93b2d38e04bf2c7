"""Officer accounts: create, sign in with rate limits, roles, and the audit log of who did what."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.orm import Session

from store.models.officers import ROLE_RANK, ROLES, AuditLog, LoginAttempt, Officer

# Sign-in limits (engage.officers.retry_at): mistakes allowed before delays start, per account from
# one address, per account from anywhere, per address over all accounts; then the wait after the
# latest failure doubles from FIRST_DELAY up to MAX_DELAY. Failures older than FAILURE_WINDOW, or
# before the key's last success, are forgotten.
FREE_FAILURES_PAIR = 3
FREE_FAILURES_ACCOUNT = 10
FREE_FAILURES_ADDRESS = 50
FIRST_DELAY = timedelta(seconds=5)
MAX_DELAY = timedelta(minutes=15)
# The address-wide wait stays short: many officers may share one address behind a council proxy.
MAX_ADDRESS_DELAY = timedelta(minutes=1)
FAILURE_WINDOW = timedelta(hours=1)
MIN_PASSWORD_LENGTH = 12
ATTEMPTS_KEPT = timedelta(days=30)

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def use_hasher(hasher: PasswordHasher) -> None:
    """Swap the argon2 parameters (tests use argon2.profiles.CHEAPEST to stay fast)."""
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = hasher, None


def _dummy() -> str:
    # Verified against when the email is unknown, so a wrong email costs the same time as a wrong password.
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not a real password, only here to spend the same time")
    return _dummy_hash


class OfficerError(ValueError):
    """A request about an officer account that cannot be done, with the reason in words."""


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt."""

    officer: Officer | None
    reason: str | None = None  # "bad_credentials" | "rate_limited" | None on success
    retry_at: datetime | None = None  # when rate_limited: the moment another try is allowed

    @property
    def ok(self) -> bool:
        return self.officer is not None


def normalise_email(email: str) -> str:
    """Lower-case and trim an email so one person has one account."""
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    """Raise OfficerError when a password is too short to be safe."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise OfficerError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")


def create_officer(s: Session, email: str, password: str, role: str, *, name: str | None = None,
                   now: datetime, by: Officer | None = None, ip: str | None = None) -> Officer:
    """Create an account, refusing unknown roles, weak passwords and duplicate emails; audit it."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise OfficerError("Give a valid email address.")
    if role not in ROLES:
        raise OfficerError(f"The role must be one of: {', '.join(ROLES)}.")
    check_password_strength(password)
    if s.scalar(select(Officer.id).where(Officer.email == email)) is not None:
        raise OfficerError(f"An account for {email} already exists.")
    officer = Officer(email=email, name=name, role=role, password_hash=hash_password(password), created_at=now)
    s.add(officer)
    s.flush()
    record(s, by, "officer.created", now, target_type="officer", target_id=officer.id,
           detail={"role": role}, summary=f"Created the {role} account {email}", ip=ip)
    return officer


def set_password(s: Session, officer: Officer, password: str, *, now: datetime, by: Officer | None = None,
                 keep_session: str | None = None, ip: str | None = None) -> int:
    """Change a password and end the account's other sessions (all of them when someone else resets it).

    Returns how many sessions were ended."""
    from engage import officer_sessions

    check_password_strength(password)
    officer.password_hash = hash_password(password)
    officer.session_epoch = (officer.session_epoch or 0) + 1
    by_self = by is None or by.id == officer.id
    ended = officer_sessions.end_all(s, officer.id, now=now, reason="password_changed" if by_self else "password_reset",
                                     keep=keep_session if by_self else None)
    record(s, by or officer, "officer.password_changed" if by_self else "officer.password_reset", now,
           target_type="officer", target_id=officer.id, detail={"sessions_ended": ended},
           summary=(f"Changed the password of {officer.email}" if by_self
                    else f"Reset the password of {officer.email}"), ip=ip)
    return ended


def check_password(officer: Officer, password: str) -> bool:
    """Return True when the password is this officer's (for a change that asks for the current one)."""
    try:
        return bool(_hasher.verify(officer.password_hash, password or ""))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def set_role(s: Session, officer: Officer, role: str, *, now: datetime, by: Officer | None) -> None:
    """Change an account's role; audit it."""
    if role not in ROLES:
        raise OfficerError(f"The role must be one of: {', '.join(ROLES)}.")
    old = officer.role
    officer.role = role
    record(s, by, "officer.role_changed", now, target_type="officer", target_id=officer.id,
           detail={"from": old, "to": role}, summary=f"Changed {officer.email} from {old} to {role}")


def set_active(s: Session, officer: Officer, active: bool, *, now: datetime, by: Officer | None) -> None:
    """Switch an account on or off; a switched-off account cannot sign in."""
    from engage import officer_sessions

    officer.active = active
    officer.session_epoch = (officer.session_epoch or 0) + 1
    if not active:
        officer_sessions.end_all(s, officer.id, now=now, reason="switched_off")
    record(s, by, "officer.enabled" if active else "officer.disabled", now, target_type="officer",
           target_id=officer.id, summary=f"{'Enabled' if active else 'Disabled'} {officer.email}")


def failures_delay(failures: int, free: int, cap: timedelta = MAX_DELAY) -> timedelta:
    """How long to wait after the latest failure: nothing for the first `free`, then doubling to a cap."""
    if failures < free:
        return timedelta(0)
    return min(FIRST_DELAY * (2 ** min(failures - free, 20)), cap)


def _failures(s: Session, now: datetime, *, email: str | None = None, ip: str | None = None,
              since_success: bool = True) -> tuple[int, datetime | None]:
    """Count failed sign-ins (and the latest one's time) for an account, an address, or the pair of them,
    within the window and, when asked, since that key's last success."""
    keys = []
    if email is not None:
        keys.append(LoginAttempt.email == email)
    if ip is not None:
        keys.append(LoginAttempt.ip == ip)
    start = now - FAILURE_WINDOW
    if since_success:
        last_success = s.scalar(select(func.max(LoginAttempt.at)).where(
            *keys, LoginAttempt.succeeded.is_(True), LoginAttempt.at > start))
        if last_success is not None:
            start = last_success
    count, latest = s.execute(select(func.count(LoginAttempt.id), func.max(LoginAttempt.at)).where(
        *keys, LoginAttempt.succeeded.is_(False), LoginAttempt.at >= start, LoginAttempt.at <= now)).one()
    return count or 0, latest


def retry_at(s: Session, email: str, ip: str | None, *, now: datetime) -> datetime | None:
    """Return when this account may next be tried from this address, or None when it may be now.

    Three limits apply together, each with delays that double rather than a fixed lockout: the
    account from this address (a mistyping officer waits a little; colleagues behind the same
    proxy are untouched), the account from anywhere (guessing from many addresses), and the
    address over every account (one machine trying many accounts)."""
    email = normalise_email(email)
    limits = [(_failures(s, now, email=email, ip=ip), FREE_FAILURES_PAIR, MAX_DELAY),
              (_failures(s, now, email=email), FREE_FAILURES_ACCOUNT, MAX_DELAY)]
    if ip:
        limits.append((_failures(s, now, ip=ip, since_success=False), FREE_FAILURES_ADDRESS, MAX_ADDRESS_DELAY))
    waits = [latest + failures_delay(count, free, cap) for (count, latest), free, cap in limits
             if latest is not None and count >= free]
    wait_until = max(waits, default=None)
    return wait_until if wait_until is not None and wait_until > now else None


def recent_failures(s: Session, *, email: str | None = None, ip: str | None = None, now: datetime) -> int:
    """Count failed sign-ins for an email, an address, or both within the window."""
    return _failures(s, now, email=normalise_email(email) if email is not None else None, ip=ip,
                     since_success=False)[0]


def _lock_sign_in_keys(s: Session, email: str, ip: str | None) -> None:
    """Serialise sign-in decisions for this account and this address across processes.

    PostgreSQL: transaction-scoped advisory locks, taken in one order so two attempts never wait on
    each other crosswise. SQLite needs nothing: every transaction there begins IMMEDIATE."""
    if s.get_bind().dialect.name != "postgresql":
        return
    for key in sorted({f"sign-in:account:{email}", f"sign-in:address:{ip or ''}"}):
        s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def authenticate(db, email: str, password: str, *, ip: str | None, now: datetime) -> SignIn:
    """Check a sign-in under the limits of `retry_at`; the limit holds however many attempts arrive at once.

    Under a lock per account and address, the attempt is first written down as a failure and
    committed, so attempts arriving together see each other and only the free ones go on to the
    password check; a right password then turns its own row into a success. `db` is a store.db.Database.
    """
    email = normalise_email(email)
    with db.session() as s:
        _lock_sign_in_keys(s, email, ip)
        wait_until = retry_at(s, email, ip, now=now)
        if wait_until is not None:
            return SignIn(None, "rate_limited", retry_at=wait_until)
        attempt = LoginAttempt(email=email, ip=ip, succeeded=False, at=now)
        s.add(attempt)
        s.flush()
        attempt_id = attempt.id
        officer = s.scalar(select(Officer).where(Officer.email == email))
        stored_hash = officer.password_hash if officer is not None else None
    ok = False
    try:
        ok = _hasher.verify(stored_hash or _dummy(), password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not (ok and stored_hash is not None):
        return SignIn(None, "bad_credentials")
    with db.session() as s:
        officer = s.scalar(select(Officer).where(Officer.email == email))
        if officer is None or not officer.active or officer.password_hash != stored_hash:
            return SignIn(None, "bad_credentials")
        if _hasher.check_needs_rehash(officer.password_hash):
            officer.password_hash = hash_password(password)
        officer.last_login_at = now
        s.get(LoginAttempt, attempt_id).succeeded = True
        # Attempts are kept a month for anyone looking into a break-in, then dropped.
        s.execute(delete(LoginAttempt).where(LoginAttempt.at < now - ATTEMPTS_KEPT))
        record(s, officer, "officer.signed_in", now, target_type="officer", target_id=officer.id, ip=ip)
        s.flush()
        s.expunge(officer)
    return SignIn(officer)


def may(officer: Officer | None, role: str) -> bool:
    """Return True when the officer's role is at least the given one."""
    return officer is not None and officer.active and ROLE_RANK.get(officer.role, -1) >= ROLE_RANK[role]


def record(s: Session, officer: Officer | None, action: str, now: datetime, *, target_type: str | None = None,
           target_id: Any = None, detail: dict[str, Any] | None = None, summary: str | None = None,
           ip: str | None = None, actor: str | None = None) -> AuditLog:
    """Append one line to the audit log inside the caller's transaction.

    `actor` names who acted when it was not an officer: an API token, the command line.
    """
    row = AuditLog(at=now, officer_id=officer.id if officer else None, officer_email=officer.email if officer else None,
                   actor=(actor or (officer.email if officer else None) or "")[:200] or None,
                   action=action, target_type=target_type, target_id=None if target_id is None else str(target_id),
                   detail=detail or {}, summary=summary, ip=ip)
    s.add(row)
    s.flush()
    return row


def audit_conditions(*, action: str | None = None, since: datetime | None = None, until: datetime | None = None,
                     who: str | None = None) -> list:
    """The audit log's filters as conditions: an action (exact, or a prefix such as "export"), a time window
    (`since` included, `until` excluded, both aware) and who acted (an officer's e-mail or an actor's name)."""
    conditions = []
    if action:
        conditions.append(AuditLog.action.like(f"{action}%"))
    if since is not None:
        conditions.append(AuditLog.at >= since)
    if until is not None:
        conditions.append(AuditLog.at < until)
    if who:
        conditions.append(or_(AuditLog.officer_email == who, AuditLog.actor == who))
    return conditions


def audit_page(s: Session, *, action: str | None = None, page: int = 1, per_page: int = 50,
               since: datetime | None = None, until: datetime | None = None,
               who: str | None = None) -> tuple[list[AuditLog], int]:
    """Return one page of the audit log, newest first, and the total count (narrowed by audit_conditions)."""
    conditions = audit_conditions(action=action, since=since, until=until, who=who)
    stmt = select(AuditLog).where(*conditions)
    count = select(func.count(AuditLog.id)).where(*conditions)
    rows = s.scalars(stmt.order_by(AuditLog.at.desc(), AuditLog.id.desc())
                     .limit(per_page).offset(max(page - 1, 0) * per_page)).all()
    return list(rows), s.scalar(count) or 0


def audit_rows(s: Session, **filters) -> list[AuditLog]:
    """Every line the filters (audit_conditions) select, newest first: for the CSV download."""
    return list(s.scalars(select(AuditLog).where(*audit_conditions(**filters))
                          .order_by(AuditLog.at.desc(), AuditLog.id.desc())))


def audit_people(s: Session) -> list[str]:
    """Everyone who appears in the log (officers' e-mails and other actors), for the page's filter."""
    who = func.coalesce(AuditLog.officer_email, AuditLog.actor)
    return [w for w in s.scalars(select(who).where(who.isnot(None)).distinct().order_by(who)) if w]


def audit_actions(s: Session) -> list[str]:
    """Every action the log holds, for the page's filter."""
    return list(s.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))
