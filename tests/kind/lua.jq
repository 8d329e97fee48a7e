# A Lua 5.1 table constructor for any JSON value, for the Argo CD health check harness
# (argocd-health.lua). null becomes nil, as Argo CD's decoding does; strings keep their bytes,
# with quotes, backslashes and control characters as decimal escapes (\34), which Lua 5.1 reads.
def tolua:
  if type == "object" then
    "{" + ([to_entries[] | "[" + (.key | tolua) + "]=" + (.value | tolua)] | join(",")) + "}"
  elif type == "array" then
    "{" + (map(tolua) | join(",")) + "}"
  elif type == "string" then
    "\"" + (explode | map(if . < 32 or . == 34 or . == 92 or . == 127 then "\\" + tostring else [.] | implode end) | join("")) + "\""
  elif type == "null" then
    "nil"
  else
    tostring
  end;
