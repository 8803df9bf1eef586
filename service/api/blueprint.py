"""The API's blueprint class: flask-smorest's, documenting the errors an operation can answer besides its own.

flask-smorest would otherwise document a catch-all `default` error on every operation, which makes any status
code "conform" to the document. Instead each operation lists what it can really answer: its own codes (declared
at the view), 503 when the database is unavailable (service.platform.errors), 422 for input the input guard refuses
(service.platform.input_guard), 400 for a body that is not JSON, and 429 where a rate limit applies
(service.platform.limits.POLICY). The error body is the one JSON shape of service.platform.errors (flask-smorest's
ErrorSchema).
"""
from flask_smorest import Blueprint

from service.platform.limits import POLICY


class ApiBlueprint(Blueprint):
    def register_views_in_doc(self, api, app, spec, *, name, parameters):
        for endpoint, doc_info in self._docs.items():
            for method, operation in doc_info.items():
                if method == "parameters":
                    continue
                responses = operation.setdefault("manual_doc", {}).setdefault("responses", {})
                responses.setdefault("503", "SERVICE_UNAVAILABLE")
                # Control characters, NUL or deep JSON anywhere in the request (service.platform.input_guard);
                # operations with arguments or their own 422 already document it.
                declared = (operation.get("response") or {}).get("responses", {})
                if 422 not in declared and "arguments" not in operation:
                    responses.setdefault("422", "UNPROCESSABLE_ENTITY")
                if method in ("post", "put", "patch"):  # a body that is not JSON at all
                    responses.setdefault("400", "BAD_REQUEST")
                if f"{name}.{endpoint}" in POLICY:
                    responses.setdefault("429", "TOO_MANY_REQUESTS")
        super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)
