-- Sets sendgrid.ops.dev/reconcile-requested-at to the current UTC time: any new value makes the
-- operator reconcile at once, without waiting for the resync interval.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["sendgrid.ops.dev/reconcile-requested-at"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
