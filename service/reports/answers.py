"""Answers to a category's extra questions (Open311 attributes), checked against their definition."""
from datetime import datetime

TEXT_MAX = 1000


def validate_answers(attributes: list[dict], answers: dict) -> tuple[dict, dict[str, list[str]]]:
    """Return (clean answers, errors by attribute code). Unknown codes and wrong types are errors."""
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    definitions = {a["code"]: a for a in attributes}
    for code in answers:
        if code not in definitions:
            errors[code] = ["Question inconnue pour cette catégorie."]
    for code, definition in definitions.items():
        value = answers.get(code)
        if value in (None, "", []):
            if definition.get("required"):
                errors[code] = ["Réponse obligatoire."]
            continue
        datatype = definition.get("datatype", "string")
        keys = {v["key"] for v in definition.get("values", [])}
        if datatype in ("string", "text"):
            if not isinstance(value, str) or len(value) > TEXT_MAX:
                errors[code] = [f"Texte attendu ({TEXT_MAX} caractères au plus)."]
            else:
                clean[code] = value
        elif datatype == "number":
            try:
                number = float(value)
                if number != number or number in (float("inf"), float("-inf")):
                    raise ValueError
                clean[code] = int(number) if number.is_integer() else number
            except (TypeError, ValueError):
                errors[code] = ["Nombre attendu."]
        elif datatype == "datetime":
            try:
                clean[code] = datetime.fromisoformat(str(value)).isoformat()
            except ValueError:
                errors[code] = ["Date et heure ISO 8601 attendues."]
        elif datatype == "singlevaluelist":
            if not isinstance(value, str) or value not in keys:
                errors[code] = [f"Valeur attendue parmi : {', '.join(sorted(keys))}."]
            else:
                clean[code] = value
        elif datatype == "multivaluelist":
            values = value if isinstance(value, list) else [value]
            if not values or any(not isinstance(v, str) or v not in keys for v in values):
                errors[code] = [f"Valeurs attendues parmi : {', '.join(sorted(keys))}."]
            else:
                clean[code] = sorted(set(values))
    return clean, errors
