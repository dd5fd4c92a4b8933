"""JSON scenarios and the control channel, for a simulator running as a process of its own
(`python -m tests.simulator`): the parent loads data, changes faults and apps, and reads the request log
over HTTPS under /_simulator/ (never logged)."""
import json
from pathlib import Path
from dataclasses import fields
from datetime import datetime

from .model import Faults
from .server import HttpResponse

APP_FLAGS = {"enabled", "access_policy", "billing", "evaluation_allowance", "implicit_grant", "roles",
             "redirect_uris", "name"}
FAULTS = {item.name for item in fields(Faults)} - {"seed"}


def load(sim, data):
    """{"tenants": [{"name", "id", "domain", "apps": [...], "users": [...], "groups": [...], "meetings": [...],
    "files": [...]}], "faults": {...}}; the first tenant without an id is the default tenant. People are
    referred to by UPN. Returns the snapshot."""
    for index, spec in enumerate(data.get("tenants", [])):
        tenant = sim.find_tenant(spec["id"]) if spec.get("id") else None
        if tenant is None:
            tenant = sim.tenant if index == 0 and not spec.get("id") else sim.add_tenant(
                spec.get("name", "Fabrikam"), tenant_id=spec.get("id"), domain=spec.get("domain"))
        for app in spec.get("apps", []):
            sim.add_app(tenant, app.get("client_id"), app.get("secret"),
                        **{name: value for name, value in app.items() if name in APP_FLAGS})
        for user in spec.get("users", []):
            sim.add_user(user["upn"], user.get("display_name"), mail=user.get("mail"), tenant=tenant)
        person = {user.upn: user for user in sim.users}.__getitem__  # this tenant's people, and earlier ones
        for group in spec.get("groups", []):
            sim.add_group(group.get("display_name", "Group"), [person(upn) for upn in group.get("members", [])],
                          tenant=tenant)
        for meeting in spec.get("meetings", []):
            sim.add_meeting(person(meeting["organizer"]), meeting.get("subject", "Teams meeting"),
                            datetime.fromisoformat(meeting["start"]) if meeting.get("start") else None,
                            participants=[(person(upn), role) for upn, role in meeting.get("participants", [])],
                            recordings=meeting.get("recordings", []), transcript=meeting.get("transcript"),
                            ad_hoc=meeting.get("ad_hoc", False))
        for item in spec.get("files", []):
            if item.get("folder"):
                sim.add_folder(person(item["owner"]), item["path"])
            else:
                data = Path(item["data_file"]).read_bytes() if item.get("data_file") else None  # a real video
                sim.add_file(person(item["owner"]), item["path"], item.get("size", 1024),
                             mime_type=item.get("mime_type"), data=data)
    set_faults(sim, data.get("faults", {}))
    return snapshot(sim)


def set_faults(sim, values):
    for name, value in values.items():
        if name == "seed":
            sim.faults.reseed(value)
        elif name in FAULTS:
            setattr(sim.faults, name, tuple(value) if name == "throttle_statuses" else value)


def snapshot(sim):
    """What a test needs to talk to the simulator: its address, and the identifiers it made."""
    def app_state(app):
        return {"client_id": app.client_id, "secret": app.secret, "roles": app.roles,
                **{name: getattr(app, name) for name in APP_FLAGS - {"roles"}}}

    return {
        "url": sim.url if sim._thread else None, "ca_path": sim.ca_path, "default_tenant": sim.tenant.id,
        "tenants": [{"id": tenant.id, "name": tenant.name, "domain": tenant.domain,
                     "apps": [app_state(app) for app in sim.apps.values() if app.tenant is tenant],
                     "users": [{"id": user.id, "upn": user.upn, "display_name": user.display_name, "drive_id":
                                user.drive_id} for user in sim.users if user.tenant is tenant],
                     "groups": [{"id": group.id, "display_name": group.display_name}
                                for group in sim.groups if group.tenant is tenant]}
                    for tenant in sim.tenants.values()],
        "meetings": [{"id": meeting.id, "organizer": meeting.organizer.upn, "subject": meeting.subject,
                      "ad_hoc": meeting.ad_hoc,
                      "recordings": [{"id": item.id, "size": item.size} for item in meeting.recordings],
                      "transcripts": [item.id for item in meeting.transcripts]} for meeting in sim.meetings],
        "files": [{"id": item.id, "owner": item.owner.upn, "name": item.name, "size": item.size}
                  for item in sim.drive_items.values() if not item.folder],
    }


def control(sim, request):
    """GET log · POST faults {...} · POST scenario {...} · POST apps/<client id> {fields, "expire_secret": true,
    "new_secret": true} · GET subscriptions · POST subscriptions/<id> {"lifecycle": event, "expire": true}."""
    action = request.path.removeprefix("/_simulator/")
    body = json.loads(request.body or b"{}")
    if action == "log" and request.method == "GET":
        return HttpResponse(200, {"requests": [entry.as_dict() for entry in sim.log]})
    if action == "faults" and request.method == "POST":
        set_faults(sim, body)
        return HttpResponse(200, {name: getattr(sim.faults, name) for name in FAULTS | {"seed"}})
    if action == "scenario" and request.method == "POST":
        return HttpResponse(200, load(sim, body))
    if action == "subscriptions" and request.method == "GET":
        return HttpResponse(200, {"subscriptions": [
            {"id": item.id, "resource": item.resource, "expires": item.expires.isoformat(), "live": item.live,
             "notification_url": item.notification_url, "lifecycle_url": item.lifecycle_url}
            for item in sim.subscriptions.values()],
            "deliveries": [{"kind": item.kind, "subscription_id": item.subscription_id, "status": item.status,
                            "outcome": item.outcome, "attempt": item.attempt} for item in sim.deliveries]})
    subscription = sim.subscriptions.get(action.removeprefix("subscriptions/"))
    if action.startswith("subscriptions/") and subscription is not None and request.method == "POST":
        if body.get("lifecycle"):
            sim.send_lifecycle(subscription, body["lifecycle"])
        if body.get("expire"):
            sim.expire_subscription(subscription)
        return HttpResponse(200, {"id": subscription.id, "live": subscription.live})
    app = sim.apps.get(action.removeprefix("apps/")) if action.startswith("apps/") else None
    if app is not None and request.method == "POST":
        for name, value in body.items():
            if name in APP_FLAGS:
                setattr(app, name, value)
        if body.get("expire_secret"):
            sim.expire_secret(app)
        secret = sim.new_secret(app) if body.get("new_secret") else app.secret
        return HttpResponse(200, {"client_id": app.client_id, "secret": secret})
    return HttpResponse(404, {"error": "unknown simulator action"})

