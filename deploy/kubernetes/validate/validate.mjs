#!/usr/bin/env node
// Offline validation of shardex's Kubernetes manifests: no cluster needed.
//
//   node validate.mjs [--kustomize CMD] [--readme FILE] TARGET...
//
// TARGET is a kustomization directory (rendered with CMD: a kubectl, run
// as `CMD kustomize DIR`, or a kustomize, run as `CMD build DIR`; default
// ./.kubectl/usr/bin/kubectl next to this script, see README.md) or a YAML
// file of rendered objects. Every object is checked against the
// Kubernetes API schema (the npm package kubernetes-models' validate()),
// then against what shardex needs (checkShardex below): probe ports,
// drain time, CPUs, the join-token Secret, selectors, hardening. Prints
// each problem as `TARGET: Kind/name: problem` and exits 1 if any; 2 on
// bad usage or a target that cannot be read or rendered.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));

// What README.md tells users to create: `kubectl create secret generic
// shardex-join-token --from-file=token=...`.
const JOIN_SECRET = { name: "shardex-join-token", key: "token" };
const WORKER_DRAIN_DEFAULT_SECONDS = 30; // cli/worker_command.cc

function usage(message) {
  if (message) console.error(`validate.mjs: ${message}`);
  console.error(
    "usage: node validate.mjs [--kustomize KUBECTL|KUSTOMIZE] [--readme FILE] " +
      "DIR_OR_YAML...",
  );
  process.exit(2);
}

// ------------------------------------------------------------ loading

function render(target, kustomize) {
  if (statSync(target).isFile()) return readFileSync(target, "utf8");
  if (!existsSync(join(target, "kustomization.yaml"))) {
    throw new Error(`${target} has no kustomization.yaml`);
  }
  if (!existsSync(kustomize)) {
    throw new Error(
      `no kustomize at ${kustomize}: extract kubectl there (README.md, ` +
        `"Validating offline") or pass --kustomize`,
    );
  }
  const args = basename(kustomize).startsWith("kubectl")
    ? ["kustomize", target]
    : ["build", target];
  try {
    return execFileSync(kustomize, args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    throw new Error(`${kustomize} ${args.join(" ")}: ${e.stderr || e.message}`);
  }
}

function parseObjects(text) {
  const objects = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(doc.errors[0].message);
    const o = doc.toJS();
    if (o !== null && o !== undefined) objects.push(o);
  }
  return objects;
}

// -------------------------------------------------- API schema check

// kubernetes-models/<group>/<version>/<Kind>; the core group is "".
async function modelOf(apiVersion, kind) {
  const path = apiVersion.includes("/") ? apiVersion : `${apiVersion}`;
  try {
    const module = await import(`kubernetes-models/${path}/${kind}`);
    return module[kind];
  } catch {
    return null;
  }
}

async function checkSchema(o, problem) {
  if (typeof o.apiVersion !== "string" || typeof o.kind !== "string") {
    problem("has no apiVersion or kind");
    return;
  }
  const Model = await modelOf(o.apiVersion, o.kind);
  if (Model === null) {
    problem(`${o.apiVersion} ${o.kind} is not a Kubernetes API kind`);
    return;
  }
  try {
    new Model(o).validate();
  } catch (e) {
    problem(`API schema: ${e.message}`);
  }
}

// ------------------------------------------------- shardex's own checks

// "30s", "1m30s", "500ms", "2h" -> seconds; NaN if not a duration.
function durationSeconds(text) {
  const units = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  const rest = text.replace(/(\d+(?:\.\d+)?)(ms|s|m|h)/g, (_, n, u) => {
    total += Number(n) * units[u];
    return "";
  });
  return rest === "" && text !== "" ? total : NaN;
}

// Kubernetes CPU quantity ("2", "1500m", "0.5") -> cores.
function cpuCores(q) {
  const s = String(q);
  return s.endsWith("m") ? Number(s.slice(0, -1)) / 1000 : Number(s);
}

// The value of `--name=V` or `--name V` in a container's args; undefined
// if absent.
function flag(args, name) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args[i + 1];
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
}

function hostPort(address) {
  const m = /:(\d+)$/.exec(address ?? "");
  return m ? Number(m[1]) : NaN;
}

function matches(selector, labels) {
  const want = selector?.matchLabels ?? selector ?? {};
  if (Object.keys(want).length === 0) return false;
  return Object.entries(want).every(([k, v]) => labels?.[k] === v);
}

function podSpecOf(o) {
  return o.spec?.template?.spec;
}

// The number a --threads/--processes value stands for: a literal, or
// $(VAR) with VAR from the container's CPU limit (resourceFieldRef,
// divisor 1, which the kubelet rounds up).
function cpuFlagValue(value, container) {
  const ref = /^\$\((\w+)\)$/.exec(value ?? "");
  if (!ref) return Number(value);
  const env = (container.env ?? []).find((e) => e.name === ref[1]);
  const field = env?.valueFrom?.resourceFieldRef;
  if (!field || !/^(limits|requests)\.cpu$/.test(field.resource)) return NaN;
  if (field.divisor !== undefined && cpuCores(field.divisor) !== 1) return NaN;
  const [kind] = field.resource.split(".");
  return Math.ceil(cpuCores(container.resources?.[kind]?.cpu));
}

function checkHardening(o, spec, problem) {
  const pod = spec.securityContext ?? {};
  if (pod.seccompProfile?.type !== "RuntimeDefault") {
    problem("pod securityContext.seccompProfile.type must be RuntimeDefault");
  }
  for (const c of spec.containers ?? []) {
    const sc = { ...pod, ...(c.securityContext ?? {}) };
    const where = `container ${c.name}`;
    if (sc.runAsNonRoot !== true) problem(`${where}: runAsNonRoot is not true`);
    if (c.securityContext?.readOnlyRootFilesystem !== true) {
      problem(`${where}: readOnlyRootFilesystem is not true`);
    }
    if (c.securityContext?.allowPrivilegeEscalation !== false) {
      problem(`${where}: allowPrivilegeEscalation is not false`);
    }
    if (!(c.securityContext?.capabilities?.drop ?? []).includes("ALL")) {
      problem(`${where}: capabilities.drop does not include ALL`);
    }
    for (const value of [...(c.command ?? []), ...(c.args ?? [])]) {
      if (/SHDXJ1-|--join=(?!-$)|--token=/.test(value)) {
        problem(`${where}: a token on the command line (${value}): use the Secret file`);
      }
    }
  }
}

// Probe ports must be container ports, and the gRPC ones the port of
// --health-listen (the only plaintext health port).
function checkCoordinator(o, c, problem, services) {
  const args = c.args ?? [];
  const where = `container ${c.name}`;
  const ports = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
  const numbers = new Set(ports.values());
  const listen = hostPort(flag(args, "--listen"));
  const health = hostPort(flag(args, "--health-listen"));
  if (!numbers.has(listen)) {
    problem(`${where}: --listen port ${listen} is not a containerPort`);
  }
  if (Number.isNaN(health)) {
    problem(`${where}: no --health-listen HOST:PORT, which the gRPC probes need`);
  } else if (!numbers.has(health)) {
    problem(`${where}: --health-listen port ${health} is not a containerPort`);
  }
  for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    const p = c[probe];
    if (probe !== "startupProbe" && p === undefined) {
      problem(`${where}: no ${probe}`);
      continue;
    }
    if (p === undefined) continue;
    if (p.grpc === undefined) {
      problem(`${where}: ${probe} is not a gRPC probe on the --health-listen port`);
    } else if (p.grpc.port !== health) {
      problem(
        `${where}: ${probe} probes port ${p.grpc.port}, but --health-listen ` +
          `serves health on ${health}`,
      );
    }
  }
  if (o.kind === "StatefulSet") {
    if (o.spec.replicas !== undefined && o.spec.replicas !== 1) {
      problem(`replicas is ${o.spec.replicas}: a coordinator owns its state dir alone; use 1`);
    }
    const stateDir = flag(args, "--state-dir");
    const claims = (o.spec.volumeClaimTemplates ?? []).map((t) => t.metadata?.name);
    const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === stateDir);
    if (!mount || !claims.includes(mount.name)) {
      problem(`${where}: --state-dir ${stateDir} is not a volumeClaimTemplate's mount`);
    }
    const service = services.find((s) => s.metadata.name === o.spec.serviceName);
    if (!service) {
      problem(`serviceName ${o.spec.serviceName} names no Service here`);
    } else {
      if (!matches(service.spec.selector, o.spec.template.metadata?.labels)) {
        problem(`Service ${service.metadata.name}'s selector does not match the pod labels`);
      }
      for (const sp of service.spec.ports ?? []) {
        const target = sp.targetPort ?? sp.port;
        const port = typeof target === "string" ? ports.get(target) : target;
        if (port !== listen) {
          problem(
            `Service ${service.metadata.name} port ${sp.port} goes to ` +
              `${target}, not the --listen port ${listen}`,
          );
        }
      }
    }
  }
}

function checkWorker(o, spec, c, problem) {
  const args = [...(c.command ?? []), ...(c.args ?? [])];
  const where = `container ${c.name}`;
  // Drain: the kubelet's SIGKILL must come after --drain-timeout.
  const drainFlag = flag(args, "--drain-timeout");
  const drain =
    drainFlag === undefined ? WORKER_DRAIN_DEFAULT_SECONDS : durationSeconds(drainFlag);
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  if (Number.isNaN(drain)) problem(`${where}: --drain-timeout ${drainFlag} is not a duration`);
  if (!(grace > drain)) {
    problem(
      `terminationGracePeriodSeconds ${grace} does not exceed the worker's ` +
        `--drain-timeout (${drain}s): the drain would be killed`,
    );
  }
  // CPUs: requests = limits = --threads = --processes.
  const requested = cpuCores(c.resources?.requests?.cpu);
  const limit = c.resources?.limits?.cpu;
  if (Number.isNaN(requested)) problem(`${where}: no resources.requests.cpu`);
  if (limit !== undefined && cpuCores(limit) !== requested) {
    problem(`${where}: requests.cpu ${c.resources.requests.cpu} != limits.cpu ${limit}`);
  }
  for (const name of ["--threads", "--processes"]) {
    const value = flag(args, name);
    const n = cpuFlagValue(value, c);
    if (value === undefined) {
      problem(`${where}: no ${name} (the default, every core of the node, ignores the pod's CPUs)`);
    } else if (n !== Math.ceil(requested)) {
      problem(
        `${where}: ${name} ${value} (= ${n}) does not match ` +
          `resources.requests.cpu ${c.resources?.requests?.cpu}`,
      );
    }
  }
  // The join token: Secret JOIN_SECRET, mounted, read by `--join -`.
  const volume = (spec.volumes ?? []).find((v) => v.secret !== undefined);
  if (!volume || volume.secret.secretName !== JOIN_SECRET.name) {
    problem(
      `no volume of the Secret ${JOIN_SECRET.name} (found ` +
        `${volume?.secret?.secretName ?? "none"}); README.md creates that one`,
    );
    return;
  }
  const item = (volume.secret.items ?? []).find((i) => i.key === JOIN_SECRET.key);
  if (!item) problem(`Secret volume ${volume.name} has no item of key ${JOIN_SECRET.key}`);
  const mount = (c.volumeMounts ?? []).find((m) => m.name === volume.name);
  if (!mount) {
    problem(`${where}: does not mount the Secret volume ${volume.name}`);
  } else if (item) {
    const file = `${mount.mountPath}/${item.path}`;
    if (!args.some((a) => a.includes(`--join -`) && a.includes(`< ${file}`))) {
      problem(`${where}: does not run \`shardex worker --join - ... < ${file}\``);
    }
  }
}

function checkShardex(objects, problemFor) {
  const services = objects.filter((o) => o.kind === "Service");
  const workloads = objects.filter((o) =>
    ["StatefulSet", "Deployment"].includes(o.kind),
  );
  for (const o of workloads) {
    const problem = problemFor(o);
    const spec = podSpecOf(o);
    if (!spec) continue; // the schema check said why
    if (!matches(o.spec.selector, o.spec.template.metadata?.labels)) {
      problem("spec.selector does not match the pod template's labels");
    }
    checkHardening(o, spec, problem);
    for (const c of spec.containers ?? []) {
      const argv = [...(c.command ?? []), ...(c.args ?? [])].join(" ");
      if (/(^|\s)coordinator(\s|$)/.test(argv)) {
        checkCoordinator(o, c, problem, services);
      } else if (/shardex worker/.test(argv)) {
        checkWorker(o, spec, c, problem);
      }
    }
  }
  for (const pdb of objects.filter((o) => o.kind === "PodDisruptionBudget")) {
    const target = workloads.find((w) =>
      matches(pdb.spec?.selector, w.spec?.template?.metadata?.labels),
    );
    if (!target) problemFor(pdb)("selector matches no workload's pods");
  }
  if (workloads.length > 0 && !objects.some((o) => o.kind === "PodDisruptionBudget")) {
    problemFor({ kind: "Kustomization", metadata: { name: "-" } })(
      "no PodDisruptionBudget for the workers",
    );
  }
}

// The README must create the Secret the workers mount.
function checkReadme(readme, problem) {
  if (!existsSync(readme)) {
    problem("no such file");
    return;
  }
  const text = readFileSync(readme, "utf8");
  const create = `create secret generic ${JOIN_SECRET.name}`;
  if (!text.includes(create) || !text.includes(`--from-file=${JOIN_SECRET.key}=`)) {
    problem(`${readme} does not show \`${create} ... --from-file=${JOIN_SECRET.key}=...\``);
  }
}

// ------------------------------------------------------------- main

async function main() {
  const argv = process.argv.slice(2);
  let kustomize = join(here, ".kubectl/usr/bin/kubectl");
  let readme = null;
  const targets = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--kustomize") kustomize = argv[++i] ?? usage("--kustomize needs a path");
    else if (argv[i] === "--readme") readme = argv[++i] ?? usage("--readme needs a path");
    else if (argv[i].startsWith("-")) usage(`unknown option ${argv[i]}`);
    else targets.push(argv[i]);
  }
  if (targets.length === 0) usage("no target");
  let problems = 0;
  if (readme !== null) {
    checkReadme(readme, (m) => {
      console.log(`${readme}: ${m}`);
      problems++;
    });
  }
  for (const target of targets) {
    let objects;
    try {
      objects = parseObjects(render(target, kustomize));
    } catch (e) {
      console.error(`${target}: cannot render: ${e.message}`);
      process.exit(2);
    }
    const problemFor = (o) => (m) => {
      console.log(`${target}: ${o.kind}/${o.metadata?.name}: ${m}`);
      problems++;
    };
    for (const o of objects) await checkSchema(o, problemFor(o));
    checkShardex(objects, problemFor);
    console.log(`${target}: ${objects.length} objects checked`);
  }
  if (problems > 0) {
    console.log(`${problems} problem(s)`);
    process.exit(1);
  }
  console.log("all valid");
}

await main();
