-- "reconcile": ask the operator to reconcile now (it watches the annotation below and records the
-- value it handled in status.lastHandledReconcileAt). Disabled while the resource is being deleted.
local actions = {}
actions["reconcile"] = { ["disabled"] = obj.metadata.deletionTimestamp ~= nil }
return actions
