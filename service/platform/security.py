"""Security headers on every response and proxy awareness (ProxyFix); cookie flags: service.platform.config.

Pages (the console, its dashboard, the API documentation) get a Content-Security-Policy without inline
scripts; JSON and XML answers get a policy that allows nothing at all. Every answer refuses framing, MIME
sniffing and leaking the URL in the Referer. HSTS is sent only over TLS: when the request itself is
secure, or when a trusted proxy says so (PROXY_FIX_X_PROTO ≥ 1, the number of proxies in front).
"""
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

# Nothing loads, nothing frames: for API answers (a JSON body opened in a browser renders nothing active).
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def page_policy(tile_url: str | None) -> str:
    """CSP of the console pages: scripts only from this origin, never inline; map tiles from their host."""
    img = ["'self'", "data:"]
    tiles = _origin(tile_url)
    if tiles:
        img.append(tiles)
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        # ReDoc (the API docs page) and Leaflet inject <style> elements: styles may be inline, scripts never.
        "style-src 'self' 'unsafe-inline'",
        "img-src " + " ".join(img),
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


# The residents' app (service.residents): it asks for the position, shows photos as blob: previews before upload
# and, where FCM web push is configured, registers with Google's installation and push registration services.
RESIDENTS_PERMISSIONS = "camera=(), microphone=(), geolocation=(self), payment=()"
FCM_WEB_ORIGINS = ("https://firebaseinstallations.googleapis.com", "https://fcmregistrations.googleapis.com")


def residents_page_policy(tile_url: str | None, fcm_web: bool) -> str:
    """The pages' policy, plus blob: images and, with FCM web push, its two origins to connect to."""
    extra = {"img-src": ["blob:"], "connect-src": list(FCM_WEB_ORIGINS) if fcm_web else []}
    directives = []
    for directive in page_policy(tile_url).split("; "):
        directives.append(" ".join([directive, *extra.get(directive.split(" ", 1)[0], [])]))
    return "; ".join(directives)


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url.replace("{s}", "a").replace("{z}", "0").replace("{x}", "0").replace("{y}", "0"))
    if not parts.scheme or not parts.netloc:
        return None
    host = parts.netloc
    if "{s}" in url:
        # Leaflet's subdomain placeholder: allow the parent domain's subdomains.
        host = "*." + host.split(".", 1)[1] if "." in host else host
    return f"{parts.scheme}://{host}"


def is_page(path: str) -> bool:
    return any(path.startswith(prefix) for prefix in current_app.config["CSP_PAGE_PREFIXES"])


def set_security_headers(response):
    headers = response.headers
    if is_page(request.path):
        headers.setdefault("Content-Security-Policy", page_policy(current_app.config.get("MAP_TILE_URL")))
        # Officers' pages show personal data: never kept by a shared browser or proxy cache.
        if not request.path.startswith("/static"):
            headers.setdefault("Cache-Control", "no-store")
    elif not request.path.startswith("/static"):
        headers.setdefault("Content-Security-Policy", API_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security",
                           f"max-age={current_app.config['HSTS_MAX_AGE_S']}; includeSubDomains")
    return response


def init_app(app: Flask) -> None:
    """Trust the proxies counted by PROXY_FIX_X_* and add the security headers to every response."""
    hops = {name: int(app.config[f"PROXY_FIX_X_{name.upper()}"]) for name in ("for", "proto", "host")}
    if any(hops.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops["for"], x_proto=hops["proto"], x_host=hops["host"])
    app.after_request(set_security_headers)
