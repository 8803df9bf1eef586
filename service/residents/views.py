"""The residents' app shell, its web app manifest and its service worker, all at the root scope.

Everything else the app shows comes from the citizen API (/api/v1) and its static files
(service/static/residents/). Settings, read per request:
  MAP_TILE_URL       tiles of the map; empty: the commune outlines of GET /api/v1/communes instead
  RESIDENTS_POLL_S   how often an open report's timeline is refreshed when push is not configured
  FCM_WEB_*          FCM web push (with FCM_PROJECT_ID); all set, the app registers a push token
"""
import os

from flask import Blueprint, current_app, render_template, send_from_directory, url_for

from service.platform.security import RESIDENTS_PERMISSIONS, residents_page_policy

bp = Blueprint("residents", __name__, template_folder="templates")

# Firebase's web config, in the order firebase.initializeApp names them; FCM_PROJECT_ID is the server's own.
FCM_WEB_SETTINGS = {"apiKey": "FCM_WEB_API_KEY", "appId": "FCM_WEB_APP_ID",
                    "messagingSenderId": "FCM_WEB_SENDER_ID", "projectId": "FCM_PROJECT_ID"}
ICON_SIZES = (192, 512)


def fcm_web_config() -> dict | None:
    """Firebase's web config and the VAPID key, or None unless every one of them is set."""
    config = {name: current_app.config.get(setting) for name, setting in FCM_WEB_SETTINGS.items()}
    config["vapidKey"] = current_app.config.get("FCM_WEB_VAPID_KEY")
    return config if all(config.values()) else None


@bp.get("/")
def shell():
    fcm = fcm_web_config()
    return render_template("residents/index.html", tile_url=current_app.config.get("MAP_TILE_URL") or "",
                           poll_s=current_app.config["RESIDENTS_POLL_S"], fcm=fcm)


@bp.get("/manifest.webmanifest")
def manifest():
    icons = [{"src": url_for("static", filename=f"residents/icons/icon-{size}.png"), "sizes": f"{size}x{size}",
              "type": "image/png", "purpose": "any"} for size in ICON_SIZES]
    icons.append({"src": url_for("static", filename="residents/icons/icon-maskable-512.png"), "sizes": "512x512",
                  "type": "image/png", "purpose": "maskable"})
    body = {
        "id": "/", "start_url": "/", "scope": "/", "name": "Proxima — signaler", "short_name": "Proxima",
        "description": "Signaler un fait d'insécurité du quotidien à l'unité compétente, et suivre sa prise en "
                       "charge.",
        "lang": "fr", "dir": "ltr", "display": "standalone", "orientation": "portrait",
        "background_color": "#ffffff", "theme_color": "#000091", "categories": ["utilities", "government"],
        "icons": icons,
    }
    response = current_app.response_class(current_app.json.dumps(body), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/sw.js")
def service_worker():
    # Served from the root so that its scope is the whole app; revalidated on every update check.
    response = send_from_directory(os.path.join(current_app.static_folder, "residents"), "sw.js",
                                   mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.after_request
def residents_headers(response):
    """The app's policy (set before service.platform.security's defaults, which only fill what is missing)."""
    response.headers["Content-Security-Policy"] = residents_page_policy(
        current_app.config.get("MAP_TILE_URL"), fcm_web=fcm_web_config() is not None)
    response.headers["Permissions-Policy"] = RESIDENTS_PERMISSIONS
    response.headers.setdefault("Cache-Control", "no-cache")
    return response
