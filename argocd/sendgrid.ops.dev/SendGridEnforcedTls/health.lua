-- Argo CD health check for sendgrid.ops.dev/SendGridEnforcedTls.
--
-- The status follows Crossplane's Ready/Synced pair, each condition carrying observedGeneration.
--   Healthy      Ready=True and Synced=True, both for the current metadata.generation.
--   Progressing  no status yet, a spec the operator has not seen (generation newer), Ready
--                Pending/Deleting, or a transient SendGrid failure (RateLimited, ApiUnavailable)
--                that the operator retries with backoff on its own.
--   Degraded     a failure a person must fix: bad or missing credentials, wrong subuser or region,
--                a rejected spec, a conflict with another resource or a contested setting, drift
--                in Observe mode.
--   Suspended    paused with the annotation sendgrid.ops.dev/paused: "true" (Synced=False,
--                reason Paused): the operator makes no SendGrid call until it is removed.
-- Never Healthy while Synced=False. Uses only base Lua 5.1 (no string library), so it runs in
-- argocd-cm without resource.customizations.useOpenLibs.
local hs = {}

-- Synced=False reasons that heal by themselves (the operator backs off and retries).
local transient = { RateLimited = true, ApiUnavailable = true }
-- Ready=False reasons that are steps on the way, not failures.
local waiting = { Pending = true, Deleting = true }

local function describe(condition)
  local text = condition.reason or condition.type
  if condition.message ~= nil and condition.message ~= "" then
    text = text .. ": " .. condition.message
  end
  return text
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile this resource"
  return hs
end

local ready = nil
local synced = nil
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    ready = condition
  elseif condition.type == "Synced" then
    synced = condition
  end
end

-- A pause holds whatever the spec says (Ready is left as it was, possibly for an older spec).
if synced ~= nil and synced.status == "False" and synced.reason == "Paused" then
  hs.status = "Suspended"
  hs.message = describe(synced)
  return hs
end

-- Conditions about an older spec say nothing about the current one.
local generation = obj.metadata.generation
if generation ~= nil then
  local observed = obj.status.observedGeneration
  for _, condition in ipairs({ ready, synced }) do
    if condition ~= nil and condition.observedGeneration ~= nil then
      if observed == nil or condition.observedGeneration < observed then
        observed = condition.observedGeneration
      end
    end
  end
  if observed == nil or observed < generation then
    hs.status = "Progressing"
    hs.message = "Waiting for the operator to observe generation " .. generation
    return hs
  end
end

if synced ~= nil and synced.status == "False" then
  if transient[synced.reason] then
    hs.status = "Progressing"
    hs.message = "Retrying: " .. describe(synced)
  else
    hs.status = "Degraded"
    hs.message = describe(synced)
  end
  return hs
end

if ready ~= nil and ready.status == "False" then
  if waiting[ready.reason] then
    hs.status = "Progressing"
  else
    hs.status = "Degraded"
  end
  hs.message = describe(ready)
  return hs
end

if ready ~= nil and ready.status == "True" and synced ~= nil and synced.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for the Ready and Synced conditions"
return hs
