// The shardex dashboard: one page, two views chosen by the URL hash
// (#/ the overview, #/job/<id> a job), redrawn from the JSON API every
// second (docs/dashboard.md). Plain DOM, no libraries, no inline script
// (the server's Content-Security-Policy forbids it). The element ids,
// classes and data attributes are a contract with the browser test
// (tests/ and docs/dashboard.md): keep them.
'use strict';

(function () {
  const POLL_MS = 1000;
  const RATE_WINDOW_MS = 10000;  // rates from the last 10 s of polls
  const MAX_PAGES_PER_POLL = 20;  // attempts pages fetched per poll

  let polls = 0;
  let timer = null;
  let view = null;  // the current view's object: {update()}
  let clockSkewMs = 0;  // server clock minus ours, from the Date header
  const rateSamples = new Map();  // job id -> [{t, done}]

  // ------------------------------------------------------------ helpers

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('data-')) e.setAttribute(k, String(v));
      else if (k in e) e[k] = v;
      else e.setAttribute(k, String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function setText(node, text) {
    text = String(text);
    if (node.textContent !== text) node.textContent = text;
  }

  // uint64 fields arrive as strings (proto3 JSON).
  const num = (v) => (v === undefined || v === null || v === '' ? 0 : Number(v));
  const serverNow = () => Date.now() + clockSkewMs;

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options) {
    const res = await fetch(path, Object.assign(
        {credentials: 'same-origin', cache: 'no-store'}, options || {}));
    // The Date header has whole seconds: only a skew beyond that counts.
    const date = Date.parse(res.headers.get('Date') || '');
    if (!Number.isNaN(date)) {
      const skew = date - Date.now();
      clockSkewMs = Math.abs(skew) > 2000 ? skew : 0;
    }
    if (res.status === 401) {
      window.location.assign('/login');
      throw new ApiError('not logged in', 401);
    }
    let body = {};
    try {
      body = await res.json();
    } catch (e) {
      body = {};
    }
    if (!res.ok) throw new ApiError(body.error || res.statusText, res.status);
    return body;
  }

  function formatDuration(ms) {
    if (!Number.isFinite(ms) || ms < 0) return '—';
    const s = ms / 1000;
    if (s < 10) return s.toFixed(1) + ' s';
    if (s < 60) return Math.round(s) + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + String(Math.round(s % 60)).padStart(2, '0') + ' s';
    const h = Math.floor(m / 60);
    return h + ' h ' + String(m % 60).padStart(2, '0') + ' min';
  }

  function formatTime(ms) {
    if (!ms) return '—';
    return new Date(ms).toLocaleString();
  }

  function formatBytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }

  function formatRate(r) {
    if (!Number.isFinite(r) || r <= 0) return '—';
    if (r >= 100) return Math.round(r) + '/s';
    if (r >= 1) return r.toFixed(1) + '/s';
    return r.toFixed(2) + '/s';
  }

  const jobStateName = (s) => String(s || 'JOB_STATE_UNSPECIFIED').replace(/^JOB_/, '');
  const outcomeName = (o) =>
      String(o || 'ATTEMPT_OUTCOME_UNSPECIFIED').replace(/^ATTEMPT_/, '').toLowerCase();
  const isTerminal = (s) => s === 'JOB_SUCCEEDED' || s === 'JOB_FAILED' || s === 'JOB_CANCELLED';

  function doneShards(job) {
    return num(job.shardsSucceeded) + num(job.shardsSkipped);
  }

  // Adaptive jobs are cut as they run (no shard count up front): their
  // progress is in units of the job's range.
  function isAdaptive(job) {
    return Boolean(job.adaptive) && num(job.unitsTotal) > 0;
  }
  function progressOf(job) {
    if (isAdaptive(job)) return {done: num(job.unitsDone), total: num(job.unitsTotal)};
    return {done: doneShards(job), total: num(job.shardsTotal)};
  }
  function progressText(job) {
    if (!isAdaptive(job)) return doneShards(job) + '/' + num(job.shardsTotal);
    const p = progressOf(job);
    return doneShards(job) + ' · ' + Math.floor(100 * p.done / p.total) + '%';
  }

  // The job page's longer form: "12/40 shards", or for an adaptive job
  // "37% of the range · 9 shards (adaptive, 1 split)".
  function jobProgressText(job) {
    if (!isAdaptive(job)) return progressText(job) + ' shards';
    const p = progressOf(job);
    const splits = num(job.splits);
    return Math.floor(100 * p.done / p.total) + '% of the range · ' +
        doneShards(job) + ' shards (adaptive, ' + splits +
        (splits === 1 ? ' split)' : ' splits)');
  }

  // Shards per second: from the polls of the last RATE_WINDOW_MS while the
  // job runs, else the average over its run.
  function jobRate(job) {
    const id = String(job.jobId);
    const done = doneShards(job);
    const now = serverNow();
    let samples = rateSamples.get(id) || [];
    samples.push({t: now, done});
    samples = samples.filter((s) => now - s.t <= RATE_WINDOW_MS);
    rateSamples.set(id, samples);
    const start = num(job.startTimeUnixMs);
    const end = num(job.endTimeUnixMs);
    if (job.state === 'JOB_RUNNING' && samples.length >= 2) {
      const first = samples[0];
      const dt = (now - first.t) / 1000;
      if (dt >= 2) return (done - first.done) / dt;
    }
    if (!start) return 0;
    const span = ((end || now) - start) / 1000;
    return span > 0 ? done / span : 0;
  }

  function jobEta(job, rate) {
    if (isTerminal(job.state)) return 'done';
    if (isAdaptive(job)) {
      // The share done so far, at the pace of the run so far.
      const p = progressOf(job);
      const start = num(job.startTimeUnixMs);
      if (!start || p.done <= 0 || p.done >= p.total) return '—';
      return formatDuration((serverNow() - start) * (p.total - p.done) / p.done);
    }
    const left = num(job.shardsTotal) - doneShards(job) - num(job.shardsFailed) -
        num(job.shardsCancelled);
    if (left <= 0) return '—';
    if (!(rate > 0)) return '—';
    return formatDuration(left / rate * 1000);
  }

  function stateBadge(cls, text) {
    return el('span', {class: 'badge ' + cls, text});
  }

  // Keeps tbody's rows keyed by `key`, creating with make(item) and
  // refreshing with update(row, item); removes the others. An empty list
  // shows `emptyText` in one row.
  function syncRows(tbody, items, key, make, update, emptyText, columns) {
    const existing = new Map();
    for (const row of Array.from(tbody.rows)) {
      if (row.dataset.key) existing.set(row.dataset.key, row);
      else row.remove();
    }
    let prev = null;
    for (const item of items) {
      const k = key(item);
      let row = existing.get(k);
      if (row) existing.delete(k);
      else {
        row = make(item);
        row.dataset.key = k;
      }
      update(row, item);
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== row) tbody.insertBefore(row, want);
      prev = row;
    }
    for (const row of existing.values()) row.remove();
    if (items.length === 0) {
      tbody.append(el('tr', {class: 'empty-row'},
          el('td', {class: 'empty', colSpan: columns, text: emptyText})));
    }
  }

  // ----------------------------------------------------------- overview

  function OverviewView(root) {
    const jobsBody = el('tbody');
    const workersBody = el('tbody');
    const summary = el('div', {class: 'summary-cards'});
    root.replaceChildren(
        summary,
        el('section', {class: 'card'},
            el('h2', {text: 'Jobs'}),
            el('table', {id: 'jobs', class: 'grid'},
                el('thead', {}, el('tr', {},
                    ...['Job', 'What', 'State', 'Progress', 'Done', 'Rate', 'ETA',
                      'Retries', 'Failed', 'Submitted'].map((h) => el('th', {text: h})))),
                jobsBody)),
        el('section', {class: 'card'},
            el('h2', {text: 'Workers'}),
            el('table', {id: 'workers', class: 'grid'},
                el('thead', {}, el('tr', {},
                    ...['Worker', 'Host', 'Slots', 'CPU', 'Memory', 'State',
                      'Completed', 'Heartbeat', 'Version'].map((h) => el('th', {text: h})))),
                workersBody)));

    function makeJobRow(job) {
      const id = String(job.jobId);
      return el('tr', {class: 'job', 'data-job-id': id},
          el('td', {}, el('a', {class: 'job-link', href: '#/job/' + id, text: '#' + id})),
          el('td', {class: 'summary-cell'}),
          el('td', {}, el('span', {class: 'state badge'})),
          el('td', {}, el('progress', {class: 'progress'})),
          el('td', {class: 'done num'}),
          el('td', {class: 'rate num'}),
          el('td', {class: 'eta num'}),
          el('td', {class: 'retries num'}),
          el('td', {class: 'errors num'}),
          el('td', {class: 'submitted'}));
    }

    function updateJobRow(row, job) {
      const q = (s) => row.querySelector(s);
      const state = jobStateName(job.state);
      const badge = q('.state');
      setText(badge, state);
      badge.className = 'state badge job-' + state.toLowerCase();
      const p = progressOf(job);
      const bar = q('progress.progress');
      bar.max = Math.max(p.total, 1);
      bar.value = p.done;
      setText(q('.done'), progressText(job));
      const rate = jobRate(job);
      setText(q('.rate'), formatRate(rate));
      setText(q('.eta'), jobEta(job, rate));
      setText(q('.retries'), num(job.retries));
      const failed = num(job.shardsFailed);
      setText(q('.errors'), failed);
      q('.errors').classList.toggle('bad', failed > 0);
      const s = q('.summary-cell');
      setText(s, job.summary || '');
      s.title = job.error || job.summary || '';
      setText(q('.submitted'), formatTime(num(job.submitTimeUnixMs)));
    }

    function workerState(w) {
      if (w.draining) return 'draining';
      if ((w.quarantinedJobs || []).length > 0) return 'quarantined';
      return num(w.running) > 0 ? 'busy' : 'idle';
    }

    function meterCell(cls, value, label) {
      return el('td', {class: 'meter-cell'},
          el('meter', {class: cls, min: 0, max: 1, low: 0.7, high: 0.9, optimum: 0.2, value}),
          el('span', {class: 'meter-label', text: label}));
    }

    function makeWorkerRow(w) {
      return el('tr', {class: 'worker', 'data-worker-id': String(w.workerId)});
    }

    function updateWorkerRow(row, w) {
      const cpu = Math.min(Math.max(Number(w.cpuUtilization) || 0, 0), 1);
      const total = num(w.memoryTotalBytes);
      const used = total > 0 ? Math.min(Math.max((total - num(w.memoryAvailableBytes)) / total, 0), 1) : 0;
      const state = workerState(w);
      const hb = num(w.lastHeartbeatUnixMs);
      row.replaceChildren(
          el('td', {class: 'num', text: '#' + w.workerId}),
          el('td', {class: 'host', text: w.host || '?', title: w.peer || ''}),
          el('td', {class: 'slots num', text: num(w.running) + '/' + num(w.slots)}),
          meterCell('cpu', cpu, total || cpu ? Math.round(cpu * 100) + '%' : '—'),
          meterCell('mem', used, total ? formatBytes(total - num(w.memoryAvailableBytes)) +
              ' / ' + formatBytes(total) : '—'),
          el('td', {}, el('span', {class: 'state badge worker-' + state, text: state,
            title: state === 'quarantined' ? 'gets no more shards of jobs ' +
                (w.quarantinedJobs || []).join(', ') : ''})),
          el('td', {class: 'num', text: num(w.completed)}),
          el('td', {class: 'num', text: hb ? formatDuration(Math.max(serverNow() - hb, 0)) + ' ago' : '—'}),
          el('td', {class: 'muted', text: w.version || ''}));
    }

    function card(label, value, cls) {
      return el('div', {class: 'stat ' + (cls || '')},
          el('div', {class: 'stat-value', text: value}),
          el('div', {class: 'stat-label', text: label}));
    }

    return {
      async update() {
        const [jobs, workers] = await Promise.all([api('/api/jobs'), api('/api/workers')]);
        const jobList = (jobs.jobs || []).slice().sort((a, b) => num(b.jobId) - num(a.jobId));
        const workerList = (workers.workers || []).slice().sort((a, b) => num(a.workerId) - num(b.workerId));
        syncRows(jobsBody, jobList, (j) => String(j.jobId), makeJobRow, updateJobRow,
            'No jobs yet. Submit one with: shardex submit …', 10);
        syncRows(workersBody, workerList, (w) => String(w.workerId), makeWorkerRow,
            updateWorkerRow, 'No workers connected. Start one with: shardex worker …', 9);
        const running = jobList.filter((j) => j.state === 'JOB_RUNNING').length;
        const queued = jobList.filter((j) => j.state === 'JOB_QUEUED').length;
        const slots = workerList.reduce((a, w) => a + num(w.slots), 0);
        const busy = workerList.reduce((a, w) => a + Math.min(num(w.running), num(w.slots)), 0);
        summary.replaceChildren(
            card('running jobs', running, running ? 'accent' : ''),
            card('queued jobs', queued),
            card('workers', workerList.length),
            card('busy slots', busy + '/' + slots));
      },
    };
  }

  // ---------------------------------------------------------------- job

  function JobView(root, jobId) {
    const attempts = [];  // the shard log so far, in start order
    let attemptsError = '';
    let dropped = 0;
    const workers = new Map();  // worker id -> WorkerInfo (connected ones)

    const stateEl = el('span', {id: 'job-state', class: 'badge'});
    const cancel = el('button', {id: 'cancel', type: 'button', class: 'danger', text: 'Cancel job'});
    const progress = el('progress', {id: 'job-progress', class: 'big'});
    const doneText = el('span', {class: 'progress-text'});
    const counts = el('div', {class: 'counts'});
    const facts = el('dl', {class: 'facts'});
    const error = el('pre', {id: 'job-error', class: 'error-box', hidden: true});
    const result = el('pre', {id: 'job-result', class: 'result'});
    const details = el('dl', {class: 'facts'});
    const stream = el('div', {id: 'task-stream', class: 'task-stream'});
    const streamNote = el('p', {class: 'note'});
    const failedBody = el('tbody');
    const spec = el('pre', {id: 'job-spec', class: 'spec'});
    const summary = el('p', {class: 'job-summary'});
    const cancelNote = el('span', {class: 'note'});

    cancel.addEventListener('click', async () => {
      if (!window.confirm('Cancel job ' + jobId + '? Its running shards are stopped.')) return;
      cancel.disabled = true;
      try {
        await api('/api/jobs/' + jobId + '/cancel',
            {method: 'POST', headers: {'X-Shardex-Action': 'cancel'}});
        setText(cancelNote, 'cancel requested');
      } catch (e) {
        setText(cancelNote, 'cancel failed: ' + e.message);
        cancel.disabled = false;
      }
    });

    const legend = el('div', {class: 'legend'},
        ...['running', 'succeeded', 'failed', 'cancelled', 'handed_back', 'lost', 'discarded']
            .map((o) => el('span', {class: 'legend-item'},
                el('span', {class: 'swatch attempt-' + o}), o.replace('_', ' '))),
        el('span', {class: 'legend-item'}, el('span', {class: 'swatch speculative'}), 'speculative twin'),
        el('span', {class: 'legend-item'}, el('span', {class: 'swatch retry'}), 'retry'));

    const section = el('section', {id: 'job', 'data-job-id': String(jobId)},
        el('div', {class: 'job-head'},
            el('a', {href: '#/', class: 'back', text: '← all jobs'}),
            el('h1', {}, 'Job ' + jobId + ' ', stateEl),
            el('span', {class: 'spacer'}),
            cancelNote, cancel),
        summary,
        el('div', {class: 'card'},
            el('div', {class: 'progress-row'}, progress, doneText),
            counts, facts, error),
        el('section', {class: 'card'}, el('h2', {text: 'Result'}), result, details),
        el('section', {class: 'card'},
            el('h2', {text: 'Task stream'}),
            el('p', {class: 'hint', text: 'One row per worker slot, one bar per shard attempt.'}),
            legend, stream, streamNote),
        el('section', {class: 'card'},
            el('h2', {text: 'Failed attempts'}),
            el('table', {id: 'failed-attempts', class: 'grid'},
                el('thead', {}, el('tr', {},
                    ...['Shard', 'Attempt', 'Worker', 'Started', 'Runtime', 'Exit',
                      'Error (stderr tail)'].map((h) => el('th', {text: h})))),
                failedBody)),
        el('section', {class: 'card'}, el('h2', {text: 'Spec'}), spec));
    root.replaceChildren(section);

    async function fetchAttempts() {
      // Re-read from the first attempt still running: its outcome changes.
      let from = attempts.findIndex((a) => a.outcome === 'ATTEMPT_RUNNING');
      if (from < 0) from = attempts.length;
      for (let page = 0; page < MAX_PAGES_PER_POLL; page++) {
        let res;
        try {
          res = await api('/api/jobs/' + jobId + '/attempts?start=' + from);
        } catch (e) {
          if (e.status === 401) throw e;
          attemptsError = e.message;
          return;
        }
        attemptsError = '';
        dropped = num(res.dropped);
        const got = res.attempts || [];
        attempts.splice(from, got.length, ...got);
        const next = num(res.next);
        if (!res.more || next <= from) return;
        from = next;
      }
    }

    function fact(dl, name, value) {
      // One grid cell per fact: its name above its value.
      dl.append(el('div', {class: 'fact'}, el('dt', {text: name}),
                   el('dd', {text: value})));
    }

    function renderJob(job) {
      const state = jobStateName(job.state);
      setText(stateEl, state);
      stateEl.className = 'badge job-' + state.toLowerCase();
      setText(summary, job.summary || '');
      const p = progressOf(job);
      progress.max = Math.max(p.total, 1);
      progress.value = p.done;
      setText(doneText, jobProgressText(job));
      cancel.hidden = isTerminal(job.state);
      if (isTerminal(job.state) && cancel.isConnected) cancel.remove();
      counts.replaceChildren(
          ...[['queued', job.shardsQueued], ['running', job.shardsRunning],
            ['succeeded', job.shardsSucceeded], ['failed', job.shardsFailed],
            ['cancelled', job.shardsCancelled], ['skipped', job.shardsSkipped]]
              .map(([k, v]) => el('span', {class: 'count count-' + k},
                  el('b', {text: num(v)}), ' ' + k)));
      const rate = jobRate(job);
      const start = num(job.startTimeUnixMs);
      const end = num(job.endTimeUnixMs);
      facts.replaceChildren();
      fact(facts, 'Submitted', formatTime(num(job.submitTimeUnixMs)));
      fact(facts, 'Started', formatTime(start));
      fact(facts, 'Ended', formatTime(end));
      fact(facts, 'Running for', start ? formatDuration((end || serverNow()) - start) : '—');
      fact(facts, 'Rate', formatRate(rate) === '—' ? '—' : formatRate(rate).replace('/s', ' shards/s'));
      fact(facts, 'ETA', jobEta(job, rate));
      fact(facts, 'Retries', num(job.retries));
      fact(facts, 'Speculative', num(job.speculativeAttempts));
      fact(facts, 'Discarded results', num(job.discardedResults));
      fact(facts, 'Result mismatches', num(job.resultMismatches));
      if ((job.quarantinedWorkers || []).length) {
        fact(facts, 'Quarantined workers', job.quarantinedWorkers.join(', '));
      }
      const problems = [job.error, job.mismatch].filter(Boolean).join('\n');
      error.hidden = !problems;
      setText(error, problems);
      const value = job.state === 'JOB_SUCCEEDED' && job.result ? job.result.value || '' : '';
      setText(result, value);
      result.classList.toggle('empty-result', !value);
      details.replaceChildren();
      const d = (job.result && job.result.details) || {};
      for (const k of Object.keys(d).sort()) fact(details, k, d[k]);
      setText(spec, JSON.stringify(job.spec || {}, null, 2));
    }

    function renderFailed() {
      const failed = attempts.filter((a) => a.outcome === 'ATTEMPT_FAILED');
      syncRows(failedBody, failed, (a) => a.shard + '/' + a.attempt + '/' + a.workerId,
          (a) => el('tr', {class: 'failed-attempt', 'data-shard': a.shard, 'data-attempt': a.attempt},
              el('td', {class: 'num', text: a.shard}),
              el('td', {class: 'num', text: a.attempt}),
              el('td', {text: '#' + a.workerId + ' ' + (a.host || '')}),
              el('td', {text: formatTime(num(a.startUnixMs))}),
              el('td', {class: 'num', text: runtimeText(a)}),
              el('td', {class: 'num', text: a.exitCode === undefined ? '—' : a.exitCode}),
              el('td', {}, el('pre', {class: 'stderr', text: a.error || '(no output)'}))),
          () => {},
          attemptsError ? 'Shard log unavailable: ' + attemptsError : 'No failed attempts.', 7);
    }

    function runtimeText(a) {
      const us = num(a.runtimeUs);
      if (us) return formatDuration(us / 1000);
      const s = num(a.startUnixMs);
      const e = num(a.endUnixMs);
      return s && e ? formatDuration(e - s) : '—';
    }

    // Packs each worker's attempts into lanes greedily by start time: an
    // attempt takes the first lane free when it starts. A worker has at
    // least as many lanes as slots.
    function lanes() {
      const byWorker = new Map();
      for (const [id, w] of workers) byWorker.set(id, {host: w.host, slots: num(w.slots), list: []});
      for (const a of attempts) {
        const id = String(a.workerId);
        if (!byWorker.has(id)) byWorker.set(id, {host: a.host, slots: 0, list: []});
        byWorker.get(id).list.push(a);
      }
      const now = serverNow();
      const out = [];
      const ids = Array.from(byWorker.keys()).sort((a, b) => Number(a) - Number(b));
      for (const id of ids) {
        const w = byWorker.get(id);
        const sorted = w.list.slice().sort((a, b) => num(a.startUnixMs) - num(b.startUnixMs));
        const ends = [];
        const rows = [];
        for (const a of sorted) {
          const s = num(a.startUnixMs);
          const e = num(a.endUnixMs) || Math.max(now, s);
          let lane = ends.findIndex((end) => end <= s);
          if (lane < 0) {
            lane = ends.length;
            ends.push(0);
            rows.push([]);
          }
          ends[lane] = e;
          rows[lane].push(a);
        }
        const count = Math.max(w.slots, rows.length, 1);
        for (let i = 0; i < count; i++) {
          out.push({workerId: id, host: w.host, slot: i, list: rows[i] || []});
        }
      }
      return out;
    }

    function niceStep(spanMs) {
      const steps = [100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000,
        300000, 600000, 900000, 1800000, 3600000, 7200000, 21600000, 43200000, 86400000];
      for (const s of steps) if (spanMs / s <= 8) return s;
      return steps[steps.length - 1];
    }

    function renderStream(job) {
      const now = serverNow();
      let t0 = num(job.startTimeUnixMs) || now;
      let t1 = num(job.endTimeUnixMs) || now;
      for (const a of attempts) {
        const s = num(a.startUnixMs);
        if (s && s < t0) t0 = s;
        const e = num(a.endUnixMs);
        if (e > t1) t1 = e;
      }
      const span = Math.max(t1 - t0, 1000);
      const pct = (t) => ((t - t0) / span * 100);
      const rows = lanes();
      const children = [];
      const axis = el('div', {class: 'axis'});
      const step = niceStep(span);
      for (let t = 0; t <= span; t += step) {
        const tick = el('span', {class: 'tick', text: formatDuration(t).replace('.0 s', ' s')});
        tick.style.left = (t / span * 100) + '%';
        axis.append(tick);
      }
      children.push(el('div', {class: 'axis-row'}, el('div', {class: 'lane-label'}), axis));
      for (const r of rows) {
        const track = el('div', {class: 'lane-track'});
        for (const a of r.list) {
          const s = num(a.startUnixMs);
          const e = num(a.endUnixMs) || Math.max(now, s);
          const outcome = outcomeName(a.outcome);
          const cls = ['attempt', 'attempt-' + outcome];
          if (a.speculative) cls.push('speculative');
          // A retry follows a failed or lost attempt; a twin is not one.
          if (num(a.attempt) > 1 && !a.speculative) cls.push('retry');
          const bar = el('div', {
            'class': cls.join(' '),
            'data-shard': a.shard,
            'data-attempt': a.attempt,
            'data-outcome': outcome,
            'title': 'shard ' + a.shard + ', attempt ' + a.attempt +
                (a.speculative ? ' (speculative)' : '') + '\n' + outcome + ', ' +
                formatDuration(e - s) + (a.exitCode !== undefined ? ', exit ' + a.exitCode : '') +
                '\nworker #' + a.workerId + ' ' + (a.host || '') +
                (a.error ? '\n' + String(a.error).slice(-300) : ''),
          });
          bar.style.left = pct(s) + '%';
          bar.style.width = Math.max(pct(e) - pct(s), 0.25) + '%';
          track.append(bar);
        }
        children.push(el('div', {class: 'lane', 'data-worker-id': r.workerId, 'data-slot': r.slot},
            el('div', {class: 'lane-label', text: (r.host || '?') + ' #' + r.workerId + ' · ' + r.slot}),
            track));
      }
      stream.replaceChildren(...children);
      let note = '';
      if (attemptsError) note = 'Shard log unavailable: ' + attemptsError;
      else if (attempts.length === 0) note = 'No attempts yet.';
      else note = attempts.length + ' attempts' + (dropped ? ' (' + dropped + ' more not kept: the log is full)' : '');
      setText(streamNote, note);
      stream.classList.toggle('empty-stream', attempts.length === 0);
    }

    return {
      async update() {
        let job;
        try {
          job = await api('/api/jobs/' + jobId);
        } catch (e) {
          if (e.status === 404) {
            root.replaceChildren(el('section', {id: 'job', 'data-job-id': String(jobId)},
                el('a', {href: '#/', class: 'back', text: '← all jobs'}),
                el('p', {class: 'empty', text: 'No job ' + jobId + ': ' + e.message})));
            return;
          }
          throw e;
        }
        const [ws] = await Promise.all([api('/api/workers'), fetchAttempts()]);
        workers.clear();
        for (const w of ws.workers || []) workers.set(String(w.workerId), w);
        renderJob(job);
        renderStream(job);
        renderFailed();
      },
    };
  }

  // -------------------------------------------------------------- loop

  function route() {
    const root = document.getElementById('view');
    const m = /^#\/job\/(\d+)/.exec(window.location.hash);
    view = m ? JobView(root, m[1]) : OverviewView(root);
    poll();
  }

  async function poll() {
    clearTimeout(timer);
    const current = view;
    const conn = document.getElementById('conn');
    try {
      await current.update();
      if (current !== view) return;  // the route changed meanwhile
      polls++;
      document.body.dataset.polls = String(polls);
      setText(document.getElementById('updated'), new Date().toLocaleTimeString());
      setText(conn, '');
      conn.className = 'conn ok';
    } catch (e) {
      if (current !== view) return;
      setText(conn, 'connection problem: ' + e.message);
      conn.className = 'conn bad';
    }
    timer = setTimeout(poll, POLL_MS);
  }

  window.addEventListener('hashchange', route);
  document.addEventListener('DOMContentLoaded', route);
})();
