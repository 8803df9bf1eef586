"""Open311 services: Proxima's categories, and their extra questions served as attributes.

Sensitive categories are listed too, so a partner can forward such a report by POST; their *requests*
never appear in any public GET output (see service/open311/requests.py).
"""
from sqlalchemy import select

from models import Category, db

DATATYPE_DESCRIPTIONS = {
    "string": "Texte court.",
    "text": "Texte libre.",
    "number": "Nombre.",
    "datetime": "Date et heure ISO 8601 avec fuseau (2026-11-26T17:40:00+01:00).",
    "singlevaluelist": "Une valeur parmi la liste (clé).",
    "multivaluelist": "Une ou plusieurs valeurs parmi la liste (clés, attribute[CODE][]).",
}


def active_categories() -> list[Category]:
    return list(db.session.execute(
        select(Category).where(Category.active).order_by(Category.group, Category.priority, Category.code)).scalars())


def service_of(category: Category) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.label_fr,
        "description": category.description_fr,
        "metadata": bool(category.attributes),
        "type": "realtime",
        "keywords": category.keywords,
        "group": category.group,
    }


def service_list() -> list[dict]:
    return [service_of(c) for c in active_categories()]


def find_category(code: str) -> Category | None:
    category = db.session.get(Category, code)
    return category if category is not None and category.active else None


def service_definition(category: Category) -> dict:
    attributes = []
    for attribute in sorted(category.attributes, key=lambda a: a.get("order", 0)):
        attributes.append({
            "variable": True,
            "code": attribute["code"],
            "datatype": attribute.get("datatype", "string"),
            "required": bool(attribute.get("required")),
            "datatype_description": DATATYPE_DESCRIPTIONS.get(attribute.get("datatype", "string"), ""),
            "order": int(attribute.get("order", 0)),
            "description": attribute.get("description_fr", ""),
            "values": [{"key": v["key"], "name": v.get("name_fr", v["key"])} for v in attribute.get("values", [])],
        })
    return {"service_code": category.code, "attributes": attributes}
