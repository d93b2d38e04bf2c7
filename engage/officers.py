"""Officer accounts: create, sign in with rate limits, roles, and the audit log of who did what."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from store.models.officers import ROLE_RANK, ROLES, AuditLog, LoginAttempt, Officer

# Five failures in fifteen minutes lock an account, and separately an address.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
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


def set_password(s: Session, officer: Officer, password: str, *, now: datetime, by: Officer | None = None) -> None:
    """Change a password and end the account's other sessions."""
    check_password_strength(password)
    officer.password_hash = hash_password(password)
    officer.session_epoch = (officer.session_epoch or 0) + 1
    record(s, by or officer, "officer.password_changed", now, target_type="officer", target_id=officer.id,
           summary=f"Changed the password of {officer.email}")


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
    officer.active = active
    officer.session_epoch = (officer.session_epoch or 0) + 1
    record(s, by, "officer.enabled" if active else "officer.disabled", now, target_type="officer",
           target_id=officer.id, summary=f"{'Enabled' if active else 'Disabled'} {officer.email}")


def recent_failures(s: Session, *, email: str | None = None, ip: str | None = None, now: datetime) -> int:
    """Count failed sign-ins for an email or an address within the window."""
    stmt = select(func.count(LoginAttempt.id)).where(
        LoginAttempt.succeeded.is_(False), LoginAttempt.at > now - FAILURE_WINDOW)
    if email is not None:
        stmt = stmt.where(LoginAttempt.email == normalise_email(email))
    if ip is not None:
        stmt = stmt.where(LoginAttempt.ip == ip)
    return s.scalar(stmt) or 0


def authenticate(s: Session, email: str, password: str, *, ip: str | None, now: datetime) -> SignIn:
    """Check a sign-in, refusing once the account or the address has failed too often recently."""
    email = normalise_email(email)
    if (recent_failures(s, email=email, now=now) >= MAX_FAILURES
            or (ip and recent_failures(s, ip=ip, now=now) >= MAX_FAILURES)):
        s.add(LoginAttempt(email=email, ip=ip, succeeded=False, at=now))
        return SignIn(None, "rate_limited")
    officer = s.scalar(select(Officer).where(Officer.email == email))
    ok = False
    try:
        ok = _hasher.verify(officer.password_hash if officer else _dummy(), password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not (ok and officer is not None and officer.active):
        s.add(LoginAttempt(email=email, ip=ip, succeeded=False, at=now))
        return SignIn(None, "bad_credentials")
    if _hasher.check_needs_rehash(officer.password_hash):
        officer.password_hash = hash_password(password)
    officer.last_login_at = now
    s.add(LoginAttempt(email=email, ip=ip, succeeded=True, at=now))
    # Attempts are kept a month for anyone looking into a break-in, then dropped.
    s.execute(delete(LoginAttempt).where(LoginAttempt.at < now - ATTEMPTS_KEPT))
    record(s, officer, "officer.signed_in", now, target_type="officer", target_id=officer.id, ip=ip)
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


def audit_page(s: Session, *, action: str | None = None, page: int = 1,
               per_page: int = 50) -> tuple[list[AuditLog], int]:
    """Return one page of the audit log, newest first, and the total count."""
    stmt = select(AuditLog)
    count = select(func.count(AuditLog.id))
    if action:
        stmt = stmt.where(AuditLog.action.like(f"{action}%"))
        count = count.where(AuditLog.action.like(f"{action}%"))
    rows = s.scalars(stmt.order_by(AuditLog.at.desc(), AuditLog.id.desc())
                     .limit(per_page).offset(max(page - 1, 0) * per_page)).all()
    return list(rows), s.scalar(count) or 0
