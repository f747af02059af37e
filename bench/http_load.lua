-- wrk script for bench/http_load.py: each request takes the next line of a file.
-- args: mode ("start": the line is a token; "update": the line is the JSON body), file.
local lines, mode, i = {}, nil, 0

function init(args)
  mode = args[1]
  for line in io.lines(args[2]) do lines[#lines + 1] = line end
end

function request()
  i = i + 1
  local line = lines[i]
  if line == nil then
    -- Out of tickets: a replay would pass for an update, so send what is refused (400) and
    -- shows up in wrk's count of non-2xx replies.
    line = "{}"
  end
  if mode == "start" then
    return wrk.format("POST", "/api/actions/start",
      {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. line},
      '{"actionType":"click"}')
  end
  return wrk.format("POST", "/api/scores/update", {["Content-Type"] = "application/json"}, line)
end
