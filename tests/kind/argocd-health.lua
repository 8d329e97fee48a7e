-- Runs an Argo CD health check on one object, as Argo CD does for argocd-cm scripts: the script
-- sees the object as the global `obj` and returns {status=..., message=...}. The object file is
-- a Lua chunk returning the object's table (made from `kubectl get -o json` by lua.jq).
-- Only the base functions and `table` are visible: argocd-cm scripts get no string, os or io
-- library unless useOpenLibs is set (scripts/verify-packaging.sh runs the stricter sandbox).
--
-- Usage: lua5.1 argocd-health.lua HEALTH_LUA OBJECT_LUA
-- Prints "<status>\t<message>"; exits non-zero when the script fails.
local script, object = arg[1], arg[2]
local chunk = assert(loadfile(script))
local env = { obj = dofile(object), table = table }
for _, name in ipairs({ "assert", "error", "ipairs", "next", "pairs", "pcall", "select",
  "tonumber", "tostring", "type", "unpack" }) do
  env[name] = _G[name]
end
setfenv(chunk, env)
local ok, hs = pcall(chunk)
if not ok or type(hs) ~= "table" then
  io.stderr:write("health check failed: ", tostring(hs), "\n")
  os.exit(1)
end
io.write(tostring(hs.status), "\t", tostring(hs.message), "\n")
