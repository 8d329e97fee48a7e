-- Runs Argo CD resource-customization scripts the way Argo CD's gopher-lua VM does for scripts
-- from argocd-cm: Lua 5.1 with only the base and table libraries, `require("os")` giving a safe
-- os (date, time, clock), and no string library (string methods fail too).
--
-- Usage: lua5.1 argocd_harness.lua CASES.lua
-- CASES.lua returns a list of {id=..., script=PATH, obj=TABLE}; for each case one JSON line
-- {"id": ..., "ok": bool, "result": ...|"error": "..."} is printed.

local cases = dofile(arg[1])

-- A minimal JSON encoder for the results (strings, numbers, booleans, nested tables).
local function encode(value)
  local kind = type(value)
  if kind == "nil" then
    return "null"
  elseif kind == "boolean" or kind == "number" then
    return tostring(value)
  elseif kind == "string" then
    local escaped = value:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
    end)
    return '"' .. escaped .. '"'
  elseif kind == "table" then
    local count = 0
    for _ in pairs(value) do count = count + 1 end
    if count > 0 and count == #value then
      local items = {}
      for i = 1, #value do items[i] = encode(value[i]) end
      return "[" .. table.concat(items, ",") .. "]"
    end
    local keys = {}
    for k in pairs(value) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local items = {}
    for _, k in ipairs(keys) do
      local v = value[k]
      if v == nil then v = value[tonumber(k)] end
      items[#items + 1] = encode(k) .. ":" .. encode(v)
    end
    return "{" .. table.concat(items, ",") .. "}"
  end
  error("cannot encode a " .. kind)
end

local safe_os = { date = os.date, time = os.time, clock = os.clock }
local base_names = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "print", "rawequal", "rawget", "rawset",
  "select", "setmetatable", "getmetatable", "tonumber", "tostring", "type", "unpack", "xpcall",
  "_VERSION",
}

local function sandbox(obj)
  local env = {}
  for _, name in ipairs(base_names) do env[name] = _G[name] end
  env.table = table
  env.require = function(name)
    if name == "os" then return safe_os end
    error("module '" .. tostring(name) .. "' is not available to argocd-cm scripts")
  end
  env.obj = obj
  env._G = env
  return env
end

local string_meta = getmetatable("")
for _, case in ipairs(cases) do
  local chunk, load_error = loadfile(case.script)
  local line
  if chunk == nil then
    line = encode({ id = case.id, ok = false, error = load_error })
  else
    setfenv(chunk, sandbox(case.obj))
    local saved_index = string_meta.__index
    string_meta.__index = nil
    local ok, result = pcall(chunk)
    string_meta.__index = saved_index
    if ok then
      line = encode({ id = case.id, ok = true, result = result })
    else
      line = encode({ id = case.id, ok = false, error = tostring(result) })
    end
  end
  io.write(line, "\n")
end
