"""Device registration and settings: a pseudonymous installation with a bearer secret."""
from service.api.blueprint import ApiBlueprint
from service.api.auth import current_device, device_required
from service.api.schemas import DeviceCreatedSchema, DeviceCreateSchema, DeviceSchema, DeviceUpdateSchema
from service.accounts import devices

blp = ApiBlueprint("devices", __name__, description="Appareils des résidents (installations de l'application)")


@blp.post("/devices")
@blp.arguments(DeviceCreateSchema)
@blp.response(201, DeviceCreatedSchema)
def register_device(body):
    device, secret = devices.register(**body)
    return {"device_id": device.id, "token": secret}


@blp.get("/devices/me")
@device_required
@blp.response(200, DeviceSchema)
def show_device():
    return devices.describe(current_device())


@blp.patch("/devices/me")
@device_required
@blp.arguments(DeviceUpdateSchema)
@blp.response(200, DeviceSchema)
def update_device(body):
    return devices.describe(devices.update(current_device(), **body))
