"""/flows: the published flows, and checking an uploaded flow file."""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import request

from api.http import ApiError, bp, invalid, services
from locales import i18n

MAX_FLOW_BYTES = 256 * 1024


def flow_as_dict(flow) -> dict:
    consultation = flow.consultation
    tz = services().settings.timezone
    return {
        "id": flow.id, "title": flow.title, "languages": list(flow.languages), "keywords": list(flow.keywords),
        "version": flow.version,
        "consultation": None if consultation is None else {
            "purpose": consultation.purpose,
            "opens_at": consultation.opens_at(tz).isoformat() if consultation.opens else None,
            "closes_at": consultation.closes_at(tz).isoformat() if consultation.closes else None,
        },
        "questions": sum(1 for step in flow.steps if step.is_question),
    }


@bp.get("/flows")
def list_flows():
    return {"data": [flow_as_dict(f) for f in services().registry.all()], "next_cursor": None}


@bp.post("/flows/lint")
def lint_flow():
    """Check YAML sent as the body (text/yaml) or as multipart field `file`; report problems with line and column."""
    from flows.lint import lint_paths, segment_report
    from flows.loader import FlowError, load_flow_text

    upload = request.files.get("file")
    data = upload.read() if upload is not None else request.get_data()
    if not data:
        raise invalid("body", "send the flow's YAML as the body, or as multipart field 'file'")
    if len(data) > MAX_FLOW_BYTES:
        raise ApiError(413, "too_large", f"a flow file may be at most {MAX_FLOW_BYTES // 1024} KiB", "body")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("body", "the flow must be UTF-8 text") from None
    name = Path(upload.filename or "flow.yaml").name if upload is not None else "flow.yaml"
    # lint_paths reads files: it is the one public function giving warnings as well as errors.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (name if name.endswith((".yaml", ".yml")) else name + ".yaml")
        path.write_text(text, encoding="utf-8")
        problems = lint_paths([path])
    flow = None
    if not any(p.severity == "error" for p in problems):
        try:
            flow = load_flow_text(text, name)
        except FlowError:
            flow = None
    return {
        "valid": flow is not None,
        "flow_id": flow.id if flow else None,
        "title": flow.title if flow else None,
        "problems": [{"line": p.line, "col": p.col, "severity": p.severity, "message": p.message}
                     for p in problems],
        "sms_segments": [{"step_id": r.step_id, "field": r.field, "lang": r.lang, "segments": r.segments,
                          "encoding": r.encoding} for r in segment_report(flow, i18n.gettext)] if flow else [],
    }
