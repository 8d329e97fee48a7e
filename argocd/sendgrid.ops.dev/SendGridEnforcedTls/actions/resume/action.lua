-- Removes sendgrid.ops.dev/paused: the operator reconciles the resource again.
if obj.metadata.annotations ~= nil then
  obj.metadata.annotations["sendgrid.ops.dev/paused"] = nil
end
return obj
