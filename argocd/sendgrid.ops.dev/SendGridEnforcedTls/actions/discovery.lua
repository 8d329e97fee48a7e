-- "reconcile": ask the operator to reconcile now (it watches the annotation below and records the
-- value it handled in status.lastHandledReconcileAt). Disabled while the resource is being deleted.
-- "pause" / "resume": set or remove sendgrid.ops.dev/paused: "true" (an incident: the operator
-- makes no SendGrid call for the resource until it is resumed). Each is offered when it applies.
local actions = {}
local deleting = obj.metadata.deletionTimestamp ~= nil
local paused = obj.metadata.annotations ~= nil and obj.metadata.annotations["sendgrid.ops.dev/paused"] == "true"
actions["reconcile"] = { ["disabled"] = deleting }
actions["pause"] = { ["disabled"] = deleting or paused }
actions["resume"] = { ["disabled"] = not paused }
return actions
