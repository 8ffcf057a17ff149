-- wrk script for bench/run-load-test.sh: a mixed read/write load on one
-- index ("load", cosine, DIM dimensions, ids 0..IDS-1 already present).
-- Per request: 80% search (k 10, random vector); 12% add of 8 items, seven
-- upserting random ids of 0..IDS-1 (always present) and one a "churn" id of
-- IDS..IDS+CHURN-1; 4% get of an id of 0..IDS-1 (so always 200); 4% delete
-- of a churn id. Every id space is bounded, so memory must stay flat.
-- LOAD_MIX=searches sends only the searches; LOAD_MIX=writes only adds, of
-- LOAD_BATCH items (default 8) each, all upserts of ids 0..IDS-1.
local dim = tonumber(os.getenv("LOAD_DIM") or "384")
local ids = tonumber(os.getenv("LOAD_IDS") or "20000")
local churn = 2000
local mix = os.getenv("LOAD_MIX") or "mixed"
local batch = tonumber(os.getenv("LOAD_BATCH") or "8")

local function vector()
  local parts = {}
  for i = 1, dim do parts[i] = string.format("%.4f", math.random() * 2 - 1) end
  return "[" .. table.concat(parts, ",") .. "]"
end

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed or os.time())
  wrk.headers["Content-Type"] = "application/json"
end

local function add(count, with_churn)
  local items = {}
  for i = 1, count do
    local id = (with_churn and i == count) and math.random(ids, ids + churn - 1)
               or math.random(0, ids - 1)
    items[i] = '{"id":"' .. id .. '","vector":' .. vector() .. ',"metadata":{"slot":' .. i .. '}}'
  end
  return wrk.format("POST", "/vectors/index/load/add", nil,
                    '{"items":[' .. table.concat(items, ",") .. ']}')
end

request = function()
  local r = math.random()
  if mix == "searches" then r = 0 end
  if mix == "writes" then return add(batch, false) end
  if r < 0.80 then
    return wrk.format("POST", "/vectors/index/load/search", nil,
                      '{"vector":' .. vector() .. ',"k":10}')
  elseif r < 0.92 then
    return add(8, true)
  elseif r < 0.96 then
    return wrk.format("GET", "/vectors/index/load/items/" .. math.random(0, ids - 1))
  else
    return wrk.format("POST", "/vectors/index/load/delete", nil,
                      '{"ids":["' .. math.random(ids, ids + churn - 1) .. '"]}')
  end
end

