-- wrk script: walk a paginated list to its end by following each page's `next` link.
-- WALK_PATH: the first page; WALK_AUTH: the Authorization header (may be empty).
-- Every response whose body has no "next" link ends one walk; a list without pagination is a
-- walk of one page. Reports `WALKS <walks> PAGES <pages> ERRORS <non-200>` at the end.
local first = os.getenv("WALK_PATH")
local auth = os.getenv("WALK_AUTH") or ""
local pending = {}
walks, pages, errors = 0, 0, 0

local thread_ref
function setup(thread) thread_ref = thread end

function request()
  local path = table.remove(pending) or first
  local headers = {}
  if auth ~= "" then headers["Authorization"] = auth end
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
    return
  end
  pages = pages + 1
  local nxt = body:match('"next":"(.-)"')
  if nxt then
    table.insert(pending, (nxt:gsub("^https?://[^/]+", "")))
  else
    walks = walks + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format("WALKS %d PAGES %d ERRORS %d SECONDS %.3f\n",
    thread_ref:get("walks"), thread_ref:get("pages"), thread_ref:get("errors"), summary.duration / 1e6))
end
