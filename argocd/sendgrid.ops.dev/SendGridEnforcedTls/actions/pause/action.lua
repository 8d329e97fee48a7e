-- Sets sendgrid.ops.dev/paused: "true": the operator stops calling SendGrid for this resource
-- (Synced=False, reason Paused; Argo CD shows it Suspended) until the annotation is removed.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["sendgrid.ops.dev/paused"] = "true"
return obj
