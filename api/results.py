"""/flows/{flow_id}/results and /flows/{flow_id}/runs: counts per question, and runs page by page."""
from __future__ import annotations

import re

from sqlalchemy import select

from api.http import audit, bp, not_found, page, page_args, services
from engage import results
from store.models import Answer, FlowVersion, Run

_FLOW_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_STEP_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


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


@bp.get("/flows/<flow_id>/results/<step_id>/themes")
def flow_step_themes(flow_id: str, step_id: str):
    """The themes officers keep for a written question: sizes, shares, words, quotes and splits.

    Reads what is stored; finding themes and placing new answers is an officer's act (dashboard or
    command line). Quotes are left out for special-category questions, and every split's counts pass
    the small-number rule (null where hidden). Audit-logged: quotes are residents' words.
    """
    from engage.themes import service

    with services().db.session() as s:
        source = _source(s, flow_id) if _STEP_ID.match(step_id) else None
        step = next((st for st in results.flow_steps(source) if st.id == step_id and st.kind == "text"),
                    None) if source else None
        if step is None:
            raise not_found("written question")
        view = service.overview(s, flow_id, step_id, special=step.special_category)
        quotes = not step.special_category
        body = {
            "flow_id": flow_id, "step_id": step_id, "question": step.question, "answers": view.answers,
            "residents": view.residents, "unplaced": view.unplaced,
            "themes": [{
                "id": t.id, "label": t.label, "words": t.words, "origin": t.origin, "renamed": t.renamed,
                "residents": t.residents, "percent": t.percent,
                "quotes": [{"text": q.text, "residents": q.residents} for q in t.quotes] if quotes else [],
                "copies": [{"text": q.text, "residents": q.residents} for q in t.copies] if quotes else [],
            } for t in view.themes],
            "breakdowns": {name: {"rows": [{"group": row["group"], "total": row["total"],
                                            "counts": {str(k): v for k, v in row["cells"].items()}}
                                           for row in table["rows"]],
                                  "withheld": table["withheld"]}
                           for name, table in view.breakdowns.items()},
        }
        audit(s, "export.downloaded", target_type="flow", target_id=flow_id,
              detail={"what": "themes", "format": "json", "rows": len(body["themes"]), "step": step_id},
              summary=f"Read the themes of {flow_id}/{step_id} through the API")
        return body


_COUNT = {"type": ["integer", "null"], "description": "null where the small-number rule hides it"}
_QUOTE = {"type": "object", "required": ["text", "residents"],
          "properties": {"text": {"type": "string"}, "residents": {"type": "integer"}}}
THEMES_SCHEMAS = {
    "Themes": {
        "type": "object",
        "required": ["flow_id", "step_id", "question", "answers", "residents", "unplaced", "themes", "breakdowns"],
        "properties": {
            "flow_id": {"type": "string"}, "step_id": {"type": "string"}, "question": {"type": "string"},
            "answers": {"type": "integer"}, "residents": {"type": "integer"},
            "unplaced": {"type": "integer", "description": "Answers that arrived since themes were last updated"},
            "themes": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "label", "words", "origin", "renamed", "residents", "percent", "quotes", "copies"],
                "properties": {
                    "id": {"type": "integer"}, "label": {"type": "string"},
                    "words": {"type": "array", "items": {"type": "string"}},
                    "origin": {"type": "string", "enum": ["found", "split", "new"],
                               "description": "new: answers that fit no theme, for an officer to look at"},
                    "renamed": {"type": "boolean"}, "residents": _COUNT, "percent": {"type": ["number", "null"]},
                    "quotes": {"type": "array", "items": _QUOTE,
                               "description": "Up to five answers closest to the theme's centre"},
                    "copies": {"type": "array", "items": _QUOTE,
                               "description": "Near-identical texts (campaigns), each with its residents"}}}},
            "breakdowns": {"type": "object", "description": "ward, age_band, language, channel",
                           "additionalProperties": {
                               "type": "object", "required": ["rows", "withheld"],
                               "properties": {"withheld": {"type": "boolean"}, "rows": {"type": "array", "items": {
                                   "type": "object", "required": ["group", "total", "counts"],
                                   "properties": {"group": {"type": "string"}, "total": _COUNT,
                                                  "counts": {"type": "object", "additionalProperties": _COUNT,
                                                             "description": "theme id -> residents"}}}}}}},
        },
    },
}
THEMES_PATHS = {
    "/flows/{flow_id}/results/{step_id}/themes": {
        "parameters": [{"name": "flow_id", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,99}$"}},
                       {"name": "step_id", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$"}}],
        "get": {"operationId": "flowStepThemes", "summary": "Themes of a written question, with quotes and splits",
                "description": "The themes officers keep (found, renamed, merged, split by them). Sizes count "
                               "residents; splits by ward, age band, language and channel pass the small-number "
                               "rule (null where hidden); special-category questions give no quotes. Every call "
                               "is written to the audit log.",
                "responses": {"200": {"description": "The themes", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Themes"}}}},
                    "404": {"$ref": "#/components/responses/E404"}}},
    },
}
