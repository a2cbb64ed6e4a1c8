#!/usr/bin/env bash
# server_check.sh MODE: x2v serve on the tiny model, driven over loopback with curl as LightX2V's client
# scripts drive lightx2v.server (post, poll /status, download /result). Environment: X2V, MODEL, CONFIG, OUT,
# CLI_DIR; I2V_MODEL and IMAGE for the form mode.
#   client     post, poll, download (scripts/server/post.py's flow); the listing, queue and service endpoints
#   fields     unknown or mistyped fields (422), paths leaving the cache (403), unknown tasks (404)
#   cancel     a running task stops at its next step, leaves no file, stays cancelled; the next task runs
#   queue      the queue limit answers 503 with LightX2V's message; cancelling all running empties it
#   restart    kill -9 mid-queue, start again on the same cache: every accepted task completes once
#   load       8 clients submit tasks at once (retrying on 503); every accepted task completes exactly once,
#              also across a kill -9 and restart half-way
#   auth       --api_key guards every endpoint but /health and /
#   events     the event stream of a task ends with its completed status
#   form       the multipart form with image_file on an i2v server; a file that is not an image is 400
#   page       / serves the page
#   browser    headless Chromium submits the page's form and a playable video appears (screenshot kept)
set -euo pipefail
mode=$1
o=$OUT/$mode
rm -rf "$o"; mkdir -p "$o"
export DTYPE=FP32 OMP_NUM_THREADS=1
server_pid=""
base=""

start_server() {  # start_server [extra flags...]: serves $MODEL on $PORT (a free one when unset); sets base and server_pid
  "$X2V" serve --model_path "${SERVE_MODEL:-$MODEL}" --config_json "$CONFIG" --port "${PORT:-0}" --cache_dir "$o/cache" "$@" \
    >>"$o/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 200); do
    local line
    line=$(grep -o 'listening on http://[0-9.:]*' "$o/server.log" | tail -1 || true)
    if [[ -n $line && $(grep -c 'listening on' "$o/server.log") -ge ${starts:-1} ]]; then base=${line#listening on }; return; fi
    kill -0 "$server_pid" 2>/dev/null || { echo "the server did not start"; cat "$o/server.log"; exit 1; }
    sleep 0.1
  done
  echo "the server did not start in 20 s"; cat "$o/server.log"; exit 1
}
stop_server() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true; server_pid=""; }
trap stop_server EXIT
field() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }  # field NAME < json: a string field's value
post() { curl -s -w '\n%{http_code}' -X POST "$base/v1/tasks/video/" -H 'Content-Type: application/json' "${auth[@]}" -d "$1"; }
status_of() { curl -s "${auth[@]}" "$base/v1/tasks/$1/status" | field status; }
wait_status() {  # wait_status ID STATUS [seconds]
  for _ in $(seq $(( ${3:-120} * 10 ))); do
    [[ $(status_of "$1") == "$2" ]] && return 0
    sleep 0.1
  done
  echo "task $1 is $(status_of "$1"), not $2"; curl -s "${auth[@]}" "$base/v1/tasks/$1/status"; cat "$o/server.log"; exit 1
}
auth=()

case $mode in
client)
  start_server
  response=$(post '{"prompt": "Two anthropomorphic cats in boxing gear", "negative_prompt": "blurry", "image_path": "", "seed": 42, "save_result_path": "./cat_boxing_seed42.mp4"}')
  [[ ${response##*$'\n'} == 200 ]] || { echo "create: $response"; exit 1; }
  id=$(echo "$response" | field task_id)
  [[ $(echo "$response" | field task_status) == pending ]]
  [[ $(echo "$response" | field save_result_path) == cat_boxing_seed42.mp4 ]]
  wait_status "$id" completed
  curl -s -f -o "$o/result.mp4" "$base/v1/tasks/$id/result"
  bash "$CLI_DIR/check_video.sh" "$o/result.mp4" 17 192 128 16
  curl -s -f -o "$o/download.mp4" "$base/v1/files/download/cat_boxing_seed42.mp4"
  cmp "$o/result.mp4" "$o/download.mp4"
  # A byte range, as a player asks for one.
  [[ $(curl -s -H 'Range: bytes=0-99' -o /dev/null -w '%{http_code} %{size_download}' "$base/v1/tasks/$id/result") == "206 100" ]]
  curl -s "$base/v1/tasks/" | grep -q "\"$id\":{"
  curl -s "$base/v1/tasks/queue/status" | grep -q '"queue_available":10'
  curl -s "$base/v1/service/metadata" | grep -q '"model_cls":"wan2.1"'
  # A second task finds the models loaded: still three loads (umT5, DiT, VAE).
  id2=$(post '{"prompt": "a dog", "infer_steps": 2}' | field task_id)
  wait_status "$id2" completed
  curl -s "$base/v1/service/status" | grep -q '"models_loaded":3' || { curl -s "$base/v1/service/status"; exit 1; }
  curl -s "$base/v1/service/status" | grep -q '"completed_tasks":2'
  curl -s "$base/health" | grep -q '"status":"ok"'
  ;;
fields)
  start_server
  expect() {  # expect CODE TEXT BODY
    local response; response=$(post "$3")
    [[ ${response##*$'\n'} == "$1" ]] && grep -qF -- "$2" <<<"$response" || { echo "expected $1 '$2' for $3, got: $response"; exit 1; }
  }
  expect 422 "unknown field 'promt'; did you mean 'prompt'?" '{"promt": "a cat"}'
  expect 422 'seed must be an integer' '{"prompt": "a cat", "seed": "x"}'
  expect 422 'infer_steps is 0; it must be in 1..1000' '{"prompt": "a cat", "infer_steps": 0}'
  expect 422 'target_shape must be [height, width]' '{"prompt": "a cat", "target_shape": [1, 2, 3]}'
  expect 422 'the body is not valid JSON' '{"prompt": '
  expect 422 'this server runs t2v' '{"prompt": "a cat", "image_path": "abc"}'
  expect 422 'flf2v (last_frame_path) is not implemented' '{"prompt": "a cat", "last_frame_path": "x.png"}'
  expect 403 'leaves the server' '{"prompt": "a cat", "save_result_path": "../../escape.mp4"}'
  expect 403 'leaves the server' '{"prompt": "a cat", "save_result_path": "/tmp/escape.mp4"}'
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/v1/files/download/..%2f..%2ftasks.sqlite3") =~ ^(403|404)$ ]]
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/v1/files/download/../cache/tasks.sqlite3") =~ ^(403|404)$ ]]
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/v1/tasks/NOPE/status") == 404 ]]
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/v1/tasks/NOPE/result") == 404 ]]
  # A body over the limit is refused before it is read whole.
  head -c 2000000 /dev/zero | tr '\0' 'a' > "$o/big.txt"
  stop_server; start_server_args=(--max_body_mb 1); starts=2 start_server --max_body_mb 1
  [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/v1/tasks/video/" --data-binary @"$o/big.txt") == 413 ]]
  ls "$o/cache/outputs" | grep -q . && { echo "a refused request left a file"; exit 1; }
  true
  ;;
cancel)
  start_server
  id=$(post '{"prompt": "a long one", "infer_steps": 1000}' | field task_id)
  next=$(post '{"prompt": "the next one", "infer_steps": 2}' | field task_id)
  for _ in $(seq 300); do curl -s "$base/v1/tasks/$id/status" | grep -q '"stage":"sample","step":[1-9]' && break; sleep 0.1; done
  curl -s -X DELETE "$base/v1/tasks/$id" | grep -q '"stop_status":"success"'
  wait_status "$id" cancelled 10
  wait_status "$next" completed
  [[ $(status_of "$id") == cancelled ]]  # it stays cancelled
  step=$(curl -s "$base/v1/tasks/$id/status" | grep -o '"step":[0-9]*' | cut -d: -f2)
  (( step < 1000 )) || { echo "the cancelled task ran to the end"; exit 1; }
  [[ ! -e $o/cache/outputs/$id.mp4 ]] || { echo "the cancelled task left its video"; exit 1; }
  ls -A "$o/cache/outputs" | grep -q '\.tmp-' && { echo "a partial file was left"; ls -A "$o/cache/outputs"; exit 1; }
  curl -s -X DELETE "$base/v1/tasks/$id" | grep -q '"stop_status":"do_nothing"'
  echo "cancelled at step $step of 1000"
  ;;
queue)
  start_server --max_queue_size 2
  a=$(post '{"prompt": "one", "infer_steps": 1000}' | field task_id)
  b=$(post '{"prompt": "two", "infer_steps": 1000}' | field task_id)
  response=$(post '{"prompt": "three"}')
  [[ ${response##*$'\n'} == 503 ]] && grep -qF 'Task queue is full (max 2 tasks)' <<<"$response" || { echo "expected 503: $response"; exit 1; }
  response=$(post "{\"prompt\": \"again\", \"task_id\": \"$a\"}")
  [[ ${response##*$'\n'} == 503 ]] || { echo "a duplicate id: $response"; exit 1; }
  curl -s -X DELETE "$base/v1/tasks/all/running" | grep -q '"stop_status":"success"'
  wait_status "$a" cancelled 10; wait_status "$b" cancelled 10
  c=$(post '{"prompt": "after", "infer_steps": 2}' | field task_id)
  wait_status "$c" completed
  ;;
restart)
  start_server
  ids=()
  for i in 1 2 3 4 5; do ids+=("$(post "{\"prompt\": \"task $i\", \"infer_steps\": 150}" | field task_id)"); done
  wait_status "${ids[1]}" processing
  kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
  starts=2 start_server
  for id in "${ids[@]}"; do wait_status "$id" completed 300; done
  grep -q 'cut short by the last stop run again' "$o/server.log"
  [[ $(ls "$o/cache/outputs" | grep -c '\.mp4$') == 5 ]]
  ls -A "$o/cache/outputs" | grep -q '\.tmp-' && { echo "a partial file survived the restart"; exit 1; }
  true
  ;;
load)
  clients=${CLIENTS:-8} tasks=${TASKS:-40}
  start_server --max_queue_size 6
  client() {  # client N: submits its share, retrying after 503, and records what was accepted
    local per=$(( tasks / clients )) i response code
    for i in $(seq "$per"); do
      for _ in $(seq 2000); do
        response=$(post "{\"prompt\": \"client $1 task $i\", \"infer_steps\": 1, \"task_id\": \"c$1-t$i\"}" || true)
        code=${response##*$'\n'}
        if [[ $code == 200 ]]; then echo "c$1-t$i" >> "$o/accepted.$1"; break; fi
        [[ $code == 503 ]] && echo 503 >> "$o/busy.$1"
        sleep 0.05
      done
    done
  }
  start=$(date +%s.%N)
  for c in $(seq "$clients"); do client "$c" & done
  # Half-way, the server dies by SIGKILL and comes back on the same cache; clients retry meanwhile.
  for _ in $(seq 600); do (( $(cat "$o"/accepted.* 2>/dev/null | wc -l) >= tasks / 2 )) && break; sleep 0.1; done
  kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null || true
  PORT=${base##*:} starts=2 start_server --max_queue_size 6  # the same address: the clients keep theirs
  wait $(jobs -p | grep -v "^$server_pid\$") 2>/dev/null || true
  accepted=$(cat "$o"/accepted.* | sort)
  [[ $(echo "$accepted" | wc -l) == "$tasks" ]] || { echo "accepted $(echo "$accepted" | wc -l) of $tasks"; exit 1; }
  [[ $(echo "$accepted" | uniq | wc -l) == "$tasks" ]] || { echo "a task was accepted twice"; exit 1; }
  for id in $accepted; do wait_status "$id" completed 600; done
  end=$(date +%s.%N)
  listed=$(curl -s "$base/v1/tasks/" | grep -o '"status":"completed"' | wc -l)
  [[ $listed == "$tasks" ]] || { echo "listed $listed completed, expected $tasks"; exit 1; }
  [[ $(ls "$o/cache/outputs" | grep -c '\.mp4$') == "$tasks" ]]
  busy=$(cat "$o"/busy.* 2>/dev/null | wc -l)
  (( busy > 0 )) || { echo "the queue limit never answered 503"; exit 1; }
  echo "$clients clients, $tasks tasks: all completed once across a kill -9; $busy answers 503; $(echo "$end - $start" | bc) s"
  ;;
auth)
  start_server --api_key s3cret
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/health") == 200 ]]
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/") == 200 ]]
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/v1/tasks/") == 401 ]]
  [[ $(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$base/v1/tasks/") == 401 ]]
  response=$(post '{"prompt": "a cat"}')
  [[ ${response##*$'\n'} == 401 ]]
  auth=(-H 'Authorization: Bearer s3cret')
  id=$(post '{"prompt": "a cat", "infer_steps": 2}' | field task_id)
  wait_status "$id" completed
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/v1/tasks/$id/result") == 401 ]]
  [[ $(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$base/v1/tasks/$id/result") == 200 ]]
  grep -q 'API key required' "$o/server.log"
  ;;
events)
  start_server
  id=$(post '{"prompt": "a cat", "infer_steps": 30}' | field task_id)
  timeout 60 curl -s -N "$base/v1/tasks/$id/events" > "$o/events.txt"
  grep -q '"status":"processing"' "$o/events.txt"
  grep -q '"stage":"sample"' "$o/events.txt"
  tail -3 "$o/events.txt" | grep -q '"status":"completed"'
  echo "$(grep -c '^data: ' "$o/events.txt") events"
  ;;
form)
  SERVE_MODEL=$I2V_MODEL start_server --task i2v
  response=$(curl -s -w '\n%{http_code}' -F "image_file=@$IMAGE" -F prompt='a cat' -F infer_steps=2 -F seed=7 "$base/v1/tasks/video/form")
  [[ ${response##*$'\n'} == 200 ]] || { echo "form: $response"; exit 1; }
  id=$(echo "$response" | field task_id)
  wait_status "$id" completed
  curl -s -f -o "$o/result.mp4" "$base/v1/tasks/$id/result"
  bash "$CLI_DIR/check_video.sh" "$o/result.mp4" 17 192 128 16
  response=$(curl -s -w '\n%{http_code}' -F "image_file=@$CONFIG;filename=cat.png" -F prompt='a cat' "$base/v1/tasks/video/form")
  [[ ${response##*$'\n'} == 400 ]] && grep -q 'does not decode' <<<"$response" || { echo "bad image: $response"; exit 1; }
  response=$(curl -s -w '\n%{http_code}' -F prompt='a cat' -F infer_steps=abc -F "image_file=@$IMAGE" "$base/v1/tasks/video/form")
  [[ ${response##*$'\n'} == 422 ]] || { echo "mistyped form field: $response"; exit 1; }
  # base64 in the JSON body works too.
  id=$(post "{\"prompt\": \"a cat\", \"infer_steps\": 2, \"image_path\": \"$(base64 -w0 "$IMAGE")\"}" | field task_id)
  wait_status "$id" completed
  ;;
browser)
  # Headless Chromium drives the page: the form filled from the URL and submitted, progress followed, and the
  # result played in a <video>. The screenshot stays as the test's artifact (server_out/browser/page.png).
  command -v chromium >/dev/null || { echo "chromium is not installed (scripts/setup.sh installs it)"; exit 1; }
  start_server
  url="$base/?prompt=a%20cat%20walking&steps=3&seed=5&autosubmit=1"
  chrome=(chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --mute-audio --user-data-dir="$o/profile"
          --virtual-time-budget=600000)
  timeout 180 "${chrome[@]}" --dump-dom "$url" > "$o/dom.html" 2>"$o/chromium.log" || { cat "$o/chromium.log"; exit 1; }
  grep -o '<video[^>]*>' "$o/dom.html" | tee "$o/video.txt" | grep -q 'data-ready="1"' ||
    { echo "no playable video in the page"; grep -o '<div id="progress">.\{0,300\}' "$o/dom.html"; cat "$o/chromium.log" | tail -5; exit 1; }
  grep -q 'data-size="192x128"' "$o/video.txt"
  curl -s "$base/v1/tasks/" | grep -q '"status":"completed"'
  timeout 180 "${chrome[@]}" --window-size=1000,1300 --screenshot="$o/page.png" "$url" 2>>"$o/chromium.log" >/dev/null
  [[ -s $o/page.png ]] || { echo "no screenshot"; exit 1; }
  echo "video: $(cat "$o/video.txt"); screenshot $o/page.png"
  ;;
page)
  start_server
  curl -s "$base/" > "$o/page.html"
  grep -q '<form id="form">' "$o/page.html" && grep -q 'autosubmit' "$o/page.html"
  ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
echo "server $mode: ok"
