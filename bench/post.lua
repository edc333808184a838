-- wrk: POST the body in $DW_BODY_FILE on every request (throughput runs).
local f = assert(io.open(os.getenv("DW_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-1"
