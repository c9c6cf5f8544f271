-- wrk script: heartbeats from many nodes, each with its own bearer token.
-- The node list (one "nodeId token" per line) is named by the SRP_HB_NODES environment variable.
local nodes = {}
for line in io.lines(os.getenv("SRP_HB_NODES")) do
  local id, token = line:match("^(%S+) (%S+)$")
  if id then nodes[#nodes + 1] = { id = id, token = token } end
end
local n = #nodes
local i = 0

request = function()
  i = i + 1
  local node = nodes[math.random(n)]
  local body = string.format(
    '{"nodeId":"%s","connections":%d,"egressBps":%d,"bytesServed":%d,"streams":[]}',
    node.id, i % 100, (i % 50) * 100000, i)
  return wrk.format("POST", "/v1/nodes/" .. node.id .. "/heartbeat", {
    ["content-type"] = "application/json",
    ["authorization"] = "Bearer " .. node.token,
  }, body)
end

local errors = 0
response = function(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
    if errors <= 3 then io.stderr:write("heartbeat answered " .. status .. ": " .. body .. "\n") end
  end
end
