-- wrk script: POST the JSON body in BENCH_BODY (default {"n":40}) with
-- Content-Type: application/json, on every request, over keep-alive.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or '{"n":40}'
wrk.headers["Content-Type"] = "application/json"
