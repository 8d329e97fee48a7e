# A Lua 5.1 table constructor for any JSON value, for the Argo CD health check harness
# (argocd-health.lua). null becomes nil, as Argo CD's decoding does; strings keep their bytes,
# with quotes, backslashes and control characters as three-digit decimal escapes (\034: Lua reads
# up to three digits, so a shorter escape followed by a digit would read as another byte).
def tolua:
  if type == "object" then
    "{" + ([to_entries[] | "[" + (.key | tolua) + "]=" + (.value | tolua)] | join(",")) + "}"
  elif type == "array" then
    "{" + (map(tolua) | join(",")) + "}"
  elif type == "string" then
    "\"" + (explode | map(if . < 32 or . == 34 or . == 92 or . == 127 then "\\" + ((. + 1000) | tostring | .[1:]) else [.] | implode end) | join("")) + "\""
  elif type == "null" then
    "nil"
  else
    tostring
  end;
