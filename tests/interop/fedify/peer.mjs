#!/usr/bin/env node
// Fedify ActivityPub test peer for the Libervia AP gateway interop tests.
//
//   node peer.mjs --domain NAME --port PORT --ctl-port CTLPORT --data DIR
//                 [--user alice] [--name "Alice"] [--page-size 10]
//                 [--first-knock rfc9421|draft-cavage-http-signatures-12]
//                 [--log-level warning] [--pid-file FILE]
//
// The federation side is plain HTTP on 127.0.0.1:PORT, behind a TLS proxy
// (nginx, tests/lib/apnet.sh) that serves https://NAME and forwards Host and
// X-Forwarded-Proto/Host. Every URL the peer builds is https://NAME/... (Fedify's
// `origin` option). One actor, a Person whose handle is USER@NAME.
//
// State lives in DIR and survives restarts: keys.json (RSA + Ed25519 key pairs),
// kv.json (Fedify's key-value store), followers.json, following.json,
// posts.json, inbox.jsonl (one JSON line per activity received).
//
// The control API (plain HTTP on 127.0.0.1:CTLPORT, JSON in and out) drives the
// peer from tests: see the `routes` table at the end of this file and
// tests/lib/apnet.sh. No message queue: deliveries happen inline, so a control
// call that sends an activity answers once the remote inbox has answered (an
// HTTP error from the remote inbox gives 502). The Accept for an incoming
// Follow is the exception: it is sent just after the Follow was answered.
//
// Loopback only: both servers bind 127.0.0.1.

// --- shims for Node 20 (Fedify 1.10 declares Node >= 22) ---------------------
if (typeof Promise.withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    value: function withResolvers() {
      let resolve, reject;
      const promise = new this((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
    writable: true,
    configurable: true,
  });
}
if (typeof ArrayBuffer.prototype.transfer !== "function") {
  const transfer = function transfer(newLength) {
    const len = newLength === undefined ? this.byteLength : Math.max(0, Math.trunc(Number(newLength)) || 0);
    const out = new ArrayBuffer(len);
    new Uint8Array(out).set(new Uint8Array(this, 0, Math.min(len, this.byteLength)));
    try {
      structuredClone(this, { transfer: [this] }); // detach the source, as the real one does
    } catch {
      // already detached, or not transferable: leave it
    }
    return out;
  };
  Object.defineProperty(ArrayBuffer.prototype, "transfer", { value: transfer, writable: true, configurable: true });
  Object.defineProperty(ArrayBuffer.prototype, "transferToFixedLength", {
    value: transfer,
    writable: true,
    configurable: true,
  });
}
// Node 21+ has a global navigator; Fedify's importJwk() reads navigator.userAgent.
if (typeof globalThis.navigator === "undefined") {
  Object.defineProperty(globalThis, "navigator", {
    value: { userAgent: `Node.js/${process.versions.node}`, language: "en-US", languages: ["en-US"] },
    writable: true,
    configurable: true,
  });
}
if (typeof Array.fromAsync !== "function") {
  Object.defineProperty(Array, "fromAsync", {
    value: async function fromAsync(items, mapFn, thisArg) {
      const out = [];
      let i = 0;
      for await (const v of items) out.push(mapFn ? await mapFn.call(thisArg, v, i++) : v);
      return out;
    },
    writable: true,
    configurable: true,
  });
}

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { AsyncLocalStorage } from "node:async_hooks";

// Imported after the shims ran (static imports would be evaluated first).
const F = await import("@fedify/fedify");
const { Temporal } = await import("@js-temporal/polyfill");
const logtape = await import("@logtape/logtape");
const {
  createFederation,
  getDocumentLoader,
  generateCryptoKeyPair,
  exportJwk,
  importJwk,
  isActor,
  parseSemVer,
  Person,
  Endpoints,
  Note,
  Mention,
  Tombstone,
  Activity,
  Create,
  Update,
  Delete,
  Announce,
  Like,
  Follow,
  Undo,
  Accept,
  Reject,
  PUBLIC_COLLECTION,
} = F;

// --- arguments -----------------------------------------------------------------
function parseArgs(argv) {
  const opts = {
    user: "alice",
    pageSize: 10,
    firstKnock: "rfc9421",
    logLevel: process.env.PEER_LOG_LEVEL || "warning",
  };
  const need = (i) => {
    if (i + 1 >= argv.length) usage(`missing value for ${argv[i]}`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case "--domain": opts.domain = need(i); i++; break;
      case "--port": opts.port = Number(need(i)); i++; break;
      case "--ctl-port": opts.ctlPort = Number(need(i)); i++; break;
      case "--data": opts.data = need(i); i++; break;
      case "--user": opts.user = need(i); i++; break;
      case "--name": opts.name = need(i); i++; break;
      case "--page-size": opts.pageSize = Number(need(i)); i++; break;
      case "--first-knock": opts.firstKnock = need(i); i++; break;
      case "--log-level": opts.logLevel = need(i); i++; break;
      case "--pid-file": opts.pidFile = need(i); i++; break;
      case "-h": case "--help": usage(null); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!opts.domain || !opts.port || !opts.ctlPort || !opts.data) usage("--domain, --port, --ctl-port and --data are required");
  if (!/^[a-z0-9_.-]+$/i.test(opts.user)) usage("bad --user");
  if (!(opts.pageSize >= 1)) usage("bad --page-size");
  if (!["rfc9421", "draft-cavage-http-signatures-12"].includes(opts.firstKnock)) usage("bad --first-knock");
  opts.name ??= opts.user.charAt(0).toUpperCase() + opts.user.slice(1);
  return opts;
}

function usage(msg) {
  if (msg) process.stderr.write(`peer.mjs: ${msg}\n`);
  process.stderr.write(
    "usage: node peer.mjs --domain NAME --port PORT --ctl-port CTLPORT --data DIR [--user alice]\n" +
      "       [--name NAME] [--page-size N] [--first-knock rfc9421|draft-cavage-http-signatures-12]\n" +
      "       [--log-level debug|info|warning|error] [--pid-file FILE]\n",
  );
  process.exit(msg ? 2 : 0);
}

const opts = parseArgs(process.argv.slice(2));
let FEDIFY_VERSION = null;
try {
  const pkg = new URL("./node_modules/@fedify/fedify/package.json", import.meta.url);
  FEDIFY_VERSION = JSON.parse(fs.readFileSync(pkg, "utf8")).version;
} catch {
  FEDIFY_VERSION = null;
}
const DOMAIN = opts.domain;
const USER = opts.user;
const ORIGIN = `https://${DOMAIN}`;
if (opts.pidFile) {
  fs.writeFileSync(opts.pidFile, `${process.pid}\n`);
  process.on("exit", () => {
    try {
      if (fs.readFileSync(opts.pidFile, "utf8").trim() === String(process.pid)) fs.rmSync(opts.pidFile);
    } catch {
      // already gone
    }
  });
}

const DATA = path.resolve(opts.data);
fs.mkdirSync(DATA, { recursive: true });

// --- logging -------------------------------------------------------------------
function log(msg) {
  process.stderr.write(`${new Date().toISOString()} [${USER}@${DOMAIN}] ${msg}\n`);
}
const textFormatter = logtape.getTextFormatter();
await logtape.configure({
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: { stderr: (record) => process.stderr.write(textFormatter(record)) },
  loggers: [
    { category: "fedify", lowestLevel: opts.logLevel, sinks: ["stderr"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
  ],
});

// --- persistence ---------------------------------------------------------------
function loadJson(name, dflt) {
  try {
    return JSON.parse(fs.readFileSync(path.join(DATA, name), "utf8"));
  } catch (e) {
    if (e.code === "ENOENT") return dflt;
    throw new Error(`${name}: ${e.message}`);
  }
}

function saveJson(name, value, mode = 0o644) {
  const file = path.join(DATA, name);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 1) + "\n", { mode });
  fs.renameSync(tmp, file);
}

function durationMs(d) {
  if (d == null) return null;
  const f = (k) => Number(d[k] ?? 0);
  return ((((f("weeks") * 7 + f("days")) * 24 + f("hours")) * 60 + f("minutes")) * 60 + f("seconds")) * 1000 +
    f("milliseconds") + f("microseconds") / 1e3 + f("nanoseconds") / 1e6;
}

// A small persistent KvStore: one JSON file, rewritten on every change.
class JsonFileKvStore {
  #file;
  #map;
  constructor(file) {
    this.#file = file;
    this.#map = new Map();
    try {
      for (const [k, e] of Object.entries(JSON.parse(fs.readFileSync(file, "utf8")))) this.#map.set(k, e);
    } catch (e) {
      if (e.code !== "ENOENT") log(`kv: ignoring unreadable ${file}: ${e.message}`);
    }
    this.#purge();
  }
  #purge() {
    const now = Date.now();
    let changed = false;
    for (const [k, e] of this.#map) {
      if (e.expires != null && e.expires <= now) {
        this.#map.delete(k);
        changed = true;
      }
    }
    return changed;
  }
  #flush() {
    const tmp = `${this.#file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.#map)));
    fs.renameSync(tmp, this.#file);
  }
  #entry(key) {
    const e = this.#map.get(JSON.stringify(key));
    if (e == null) return undefined;
    if (e.expires != null && e.expires <= Date.now()) {
      this.#map.delete(JSON.stringify(key));
      return undefined;
    }
    return e;
  }
  #put(key, value, options) {
    const ttl = durationMs(options?.ttl);
    this.#map.set(JSON.stringify(key), { value, expires: ttl == null ? null : Date.now() + ttl });
    this.#purge();
    this.#flush();
  }
  async get(key) {
    const e = this.#entry(key);
    return e === undefined ? undefined : structuredClone(e.value);
  }
  async set(key, value, options) {
    this.#put(key, value === undefined ? null : structuredClone(value), options);
  }
  async delete(key) {
    if (this.#map.delete(JSON.stringify(key))) this.#flush();
  }
  async cas(key, expectedValue, newValue, options) {
    const e = this.#entry(key);
    const current = e === undefined ? undefined : e.value;
    if (JSON.stringify(current) !== JSON.stringify(expectedValue)) return false;
    if (newValue === undefined) await this.delete(key);
    else this.#put(key, structuredClone(newValue), options);
    return true;
  }
  async *list(prefix) {
    const now = Date.now();
    for (const [k, e] of [...this.#map]) {
      if (e.expires != null && e.expires <= now) continue;
      const key = JSON.parse(k);
      if (prefix && !prefix.every((p, i) => key[i] === p)) continue;
      yield { key, value: structuredClone(e.value) };
    }
  }
}

async function loadKeyPairs() {
  let stored = loadJson("keys.json", null);
  if (stored == null) {
    stored = [];
    for (const alg of ["RSASSA-PKCS1-v1_5", "Ed25519"]) {
      // RSA 2048 rather than Fedify's default 4096: much faster to make.
      const pair = alg === "Ed25519" ? await generateCryptoKeyPair(alg) : await crypto.webcrypto.subtle.generateKey(
        { name: alg, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
        true,
        ["sign", "verify"],
      );
      stored.push({ algorithm: alg, private: await exportJwk(pair.privateKey), public: await exportJwk(pair.publicKey) });
    }
    saveJson("keys.json", stored, 0o600);
    log("generated new RSA and Ed25519 key pairs");
  }
  return Promise.all(
    stored.map(async (k) => ({
      privateKey: await importJwk(k.private, "private"),
      publicKey: await importJwk(k.public, "public"),
    })),
  );
}

const keyPairs = await loadKeyPairs();
const kv = new JsonFileKvStore(path.join(DATA, "kv.json"));
// followers: [{id, inbox, shared_inbox, follow_id, since}]
let followers = loadJson("followers.json", []);
// following: [{handle, actor_id, inbox, shared_inbox, follow_id, state, since}]
let following = loadJson("following.json", []);
// posts: [{id, note_id, activity_id, content, to, mention, in_reply_to, published, updated, deleted}]
let posts = loadJson("posts.json", []);
const INBOX_LOG = path.join(DATA, "inbox.jsonl");

const saveFollowers = () => saveJson("followers.json", followers);
const saveFollowing = () => saveJson("following.json", following);
const savePosts = () => saveJson("posts.json", posts);

// --- federation ----------------------------------------------------------------
const federation = createFederation({
  kv,
  origin: ORIGIN,
  allowPrivateAddress: true, // everything is on 127.0.18.x
  // No remote document cache: tests change remote documents (outboxes) and
  // expect to see the new state at once.
  documentLoaderFactory: () => getDocumentLoader({ allowPrivateAddress: true }),
  firstKnock: opts.firstKnock,
});

const actorUri = (ctx) => ctx.getActorUri(USER);
const newActivityUri = () => new URL(`${ORIGIN}/users/${USER}/activities/${crypto.randomUUID()}`);

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== USER) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: opts.name,
      summary: `Fedify test peer ${identifier}@${DOMAIN}`,
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      outbox: ctx.getOutboxUri(identifier),
      followers: ctx.getFollowersUri(identifier),
      following: ctx.getFollowingUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      manuallyApprovesFollowers: false,
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .mapHandle((_ctx, username) => (username === USER ? USER : null))
  .setKeyPairsDispatcher(async (_ctx, identifier) => (identifier === USER ? keyPairs : []));

function audience(ctx, p) {
  const tos = [];
  const ccs = [];
  if (p.to === "public") {
    tos.push(PUBLIC_COLLECTION);
    ccs.push(ctx.getFollowersUri(USER));
  } else if (p.to === "followers") {
    tos.push(ctx.getFollowersUri(USER));
  }
  if (p.mention) tos.push(new URL(p.mention.id));
  return { tos, ccs };
}

function buildNote(ctx, p) {
  const { tos, ccs } = audience(ctx, p);
  const id = ctx.getObjectUri(Note, { identifier: USER, id: p.id });
  return new Note({
    id,
    url: id,
    attribution: actorUri(ctx),
    content: p.content,
    mediaType: "text/html",
    published: Temporal.Instant.from(p.published),
    updated: p.updated ? Temporal.Instant.from(p.updated) : null,
    replyTarget: p.in_reply_to ? new URL(p.in_reply_to) : null,
    tos,
    ccs,
    tags: p.mention ? [new Mention({ href: new URL(p.mention.id), name: `@${p.mention.handle}` })] : [],
  });
}

function buildCreate(ctx, p) {
  const { tos, ccs } = audience(ctx, p);
  return new Create({
    id: new URL(p.activity_id),
    actor: actorUri(ctx),
    object: buildNote(ctx, p),
    published: Temporal.Instant.from(p.published),
    tos,
    ccs,
  });
}

federation.setObjectDispatcher(Note, "/users/{identifier}/posts/{id}", async (ctx, values) => {
  if (values.identifier !== USER) return null;
  const p = posts.find((x) => x.id === values.id && !x.deleted);
  return p ? buildNote(ctx, p) : null;
});

// Outbox: public posts only (as Mastodon does), newest first, Create activities.
const outboxPosts = () => posts.filter((p) => !p.deleted && p.to === "public").reverse();
federation
  .setOutboxDispatcher("/users/{identifier}/outbox", async (ctx, identifier, cursor) => {
    if (identifier !== USER) return null;
    const all = outboxPosts();
    if (cursor == null) return { items: all.map((p) => buildCreate(ctx, p)) };
    const start = Math.max(0, parseInt(cursor, 10) || 0);
    const end = start + opts.pageSize;
    return {
      items: all.slice(start, end).map((p) => buildCreate(ctx, p)),
      nextCursor: end < all.length ? String(end) : null,
    };
  })
  .setCounter((_ctx, identifier) => (identifier === USER ? outboxPosts().length : null))
  .setFirstCursor((_ctx, identifier) => (identifier === USER ? "0" : null));

const recipientOf = (r) => ({
  id: new URL(r.id ?? r.actor_id),
  inboxId: new URL(r.inbox),
  endpoints: r.shared_inbox ? { sharedInbox: new URL(r.shared_inbox) } : null,
});

federation
  .setFollowersDispatcher("/users/{identifier}/followers", async (_ctx, identifier) => {
    if (identifier !== USER) return null;
    return { items: followers.map(recipientOf) };
  })
  .setCounter((_ctx, identifier) => (identifier === USER ? followers.length : null));

federation
  .setFollowingDispatcher("/users/{identifier}/following", async (_ctx, identifier) => {
    if (identifier !== USER) return null;
    return { items: following.filter((f) => f.state === "accepted").map((f) => new URL(f.actor_id)) };
  })
  .setCounter((_ctx, identifier) => (identifier === USER ? following.filter((f) => f.state === "accepted").length : null));

federation.setNodeInfoDispatcher("/nodeinfo/2.1", async () => ({
  software: { name: "libervia-fedify-test-peer", version: parseSemVer("1.0.0") },
  protocols: ["activitypub"],
  usage: { users: { total: 1, activeMonth: 1, activeHalfyear: 1 }, localPosts: posts.filter((p) => !p.deleted).length, localComments: 0 },
}));

// --- inbox ---------------------------------------------------------------------
// The raw request of the inbox POST being handled (set by the HTTP adapter).
const requestStore = new AsyncLocalStorage();

const asArray = (v) => (v == null ? [] : Array.isArray(v) ? v : [v]);
const idOf = (v) => (v == null ? null : typeof v === "string" ? v : (v.id ?? v["@id"] ?? null));
// Compacted JSON-LD may spell the public collection "as:Public" or "Public".
const AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public";
const audienceIds = (v) => asArray(v).map(idOf).map((x) => (x === "as:Public" || x === "Public" ? AS_PUBLIC : x));

async function recordInbox(ctx, activity) {
  let raw = null;
  let sigSpec = null;
  const store = requestStore.getStore();
  if (store?.body?.length) {
    try {
      raw = JSON.parse(store.body.toString("utf8"));
    } catch {
      raw = null;
    }
    sigSpec = store.headers.has("signature-input") ? "rfc9421" : store.headers.has("signature") ? "draft-cavage" : null;
  }
  if (raw == null || idOf(raw) !== activity.id?.href) {
    try {
      raw = await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
    } catch {
      raw = { id: activity.id?.href };
    }
  }
  const obj = raw.object;
  const objIsObj = obj != null && typeof obj === "object" && !Array.isArray(obj);
  const entry = {
    type: raw.type ?? activity.constructor.name,
    id: activity.id?.href ?? idOf(raw),
    actor: activity.actorId?.href ?? idOf(raw.actor),
    object_id: Array.isArray(obj) ? idOf(obj[0]) : idOf(obj),
    object_type: objIsObj ? (obj.type ?? null) : null,
    content: objIsObj ? (obj.content ?? null) : null,
    to: audienceIds(raw.to),
    cc: audienceIds(raw.cc),
    recipient: ctx.recipient ?? null, // null: delivered to the shared inbox
    signature: sigSpec,
    receivedAt: new Date().toISOString(),
    raw,
  };
  fs.appendFileSync(INBOX_LOG, JSON.stringify(entry) + "\n");
  log(
    `recv ${entry.type} ${entry.id} from ${entry.actor}` +
      (entry.object_id ? ` object=${entry.object_type ?? ""}${entry.object_type ? ":" : ""}${entry.object_id}` : "") +
      (sigSpec ? ` sig=${sigSpec}` : ""),
  );
  return entry;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function onFollow(ctx, follow) {
  await recordInbox(ctx, follow);
  if (follow.id == null || follow.actorId == null || follow.objectId == null) return;
  const target = ctx.parseUri(follow.objectId);
  if (target?.type !== "actor" || target.identifier !== USER) {
    log(`ignoring Follow of ${follow.objectId.href} (not ${USER})`);
    return;
  }
  const follower = await follow.getActor(ctx);
  if (follower == null || follower.id == null || follower.inboxId == null) {
    log(`Follow ${follow.id.href}: cannot get the follower's actor with an inbox`);
    return;
  }
  const rec = {
    id: follower.id.href,
    inbox: follower.inboxId.href,
    shared_inbox: follower.endpoints?.sharedInbox?.href ?? null,
    follow_id: follow.id.href,
    since: new Date().toISOString(),
  };
  followers = followers.filter((f) => f.id !== rec.id);
  followers.push(rec);
  saveFollowers();
  // Embed a bare copy of the Follow ({id, type, actor, object} with URLs):
  // `follow` itself now holds the fetched actor (getActor above) and its
  // proof, which Fedify would embed whole.
  const embedded = new Follow({ id: follow.id, actor: follow.actorId, object: follow.objectId });
  const accept = new Accept({ id: newActivityUri(), actor: follow.objectId, object: embedded, to: follower.id });
  // Answer the Follow first (202), then send the Accept, as servers with a
  // queue do; a few tries in case the follower is slow.
  setTimeout(async () => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await ctx.sendActivity({ identifier: USER }, follower, accept);
        log(`sent Accept ${accept.id.href} of ${follow.id.href} to ${follower.inboxId.href}`);
        return;
      } catch (e) {
        log(`sending Accept of ${follow.id.href} failed (try ${attempt}/3): ${e.message}`);
        await sleep(500 * attempt);
      }
    }
  }, 50);
}

async function onUndo(ctx, undo) {
  await recordInbox(ctx, undo);
  const objectId = undo.objectId?.href;
  let inner = null;
  try {
    inner = await undo.getObject(ctx);
  } catch {
    inner = null; // not embedded and not fetchable
  }
  const isFollow = inner instanceof Follow || followers.some((f) => f.follow_id === objectId);
  if (isFollow && undo.actorId) {
    const before = followers.length;
    followers = followers.filter((f) => f.id !== undo.actorId.href);
    if (followers.length !== before) {
      saveFollowers();
      log(`follower ${undo.actorId.href} removed`);
    }
  }
}

function followAnswered(state) {
  return async (ctx, activity) => {
    await recordInbox(ctx, activity);
    const objectId = activity.objectId?.href;
    const actor = activity.actorId?.href;
    let f = following.find((x) => x.follow_id === objectId);
    if (f == null) f = following.find((x) => x.actor_id === actor && x.state === "pending");
    if (f == null) {
      log(`${state}: no matching Follow for ${objectId}`);
      return;
    }
    f.state = state;
    f.answered_by = activity.id?.href ?? null;
    saveFollowing();
    log(`follow of ${f.actor_id} ${state}`);
  };
}

const recordOnly = async (ctx, activity) => {
  await recordInbox(ctx, activity);
};

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .withIdempotency("per-origin")
  .on(Follow, onFollow)
  .on(Undo, onUndo)
  .on(Accept, followAnswered("accepted"))
  .on(Reject, followAnswered("rejected"))
  .on(Create, recordOnly)
  .on(Update, recordOnly)
  .on(Delete, recordOnly)
  .on(Announce, recordOnly)
  .on(Activity, recordOnly) // catch-all: Like, Add, Move, ...
  .onError((_ctx, error) => log(`inbox listener error: ${error?.stack ?? error}`));

// --- federation HTTP server (behind nginx) -----------------------------------
const first = (v) => (v == null ? null : String(Array.isArray(v) ? v[0] : v).split(",")[0].trim() || null);

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

async function handleFederation(req, res) {
  const body = await readBody(req);
  const proto = first(req.headers["x-forwarded-proto"]) ?? "http";
  const host = first(req.headers["x-forwarded-host"]) ?? req.headers.host ?? `127.0.0.1:${opts.port}`;
  const url = new URL(req.url, `${proto}://${host}`);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const hasBody = !["GET", "HEAD"].includes(req.method);
  const request = new Request(url, { method: req.method, headers, body: hasBody ? body : undefined });
  let response;
  try {
    response = await requestStore.run({ body, headers }, () => federation.fetch(request, { contextData: undefined }));
  } catch (e) {
    log(`error handling ${req.method} ${url.href}: ${e?.stack ?? e}`);
    response = new Response("Internal Server Error\n", { status: 500, headers: { "content-type": "text/plain" } });
  }
  const out = Buffer.from(await response.arrayBuffer());
  const summary = `${req.method} ${url.pathname}${url.search} -> ${response.status}`;
  if (response.status >= 400 && req.method === "POST") {
    log(`${summary} ${out.toString("utf8").slice(0, 300).replace(/\s+/g, " ")}` +
      ` (sig=${headers.has("signature-input") ? "rfc9421" : headers.has("signature") ? "draft-cavage" : "none"})`);
  } else {
    log(summary);
  }
  res.statusCode = response.status;
  response.headers.forEach((v, k) => {
    if (k !== "content-length" && k !== "transfer-encoding" && k !== "connection") res.setHeader(k, v);
  });
  res.setHeader("content-length", req.method === "HEAD" ? 0 : out.length);
  res.end(req.method === "HEAD" ? undefined : out);
}

// --- control API ---------------------------------------------------------------
class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const ctlContext = () => federation.createContext(new URL(`${ORIGIN}/`), undefined);

function normHandle(h) {
  if (typeof h !== "string" || h.trim() === "") throw new HttpError(400, "missing \"handle\"");
  h = h.trim();
  if (/^https?:\/\//.test(h)) return h;
  return h.replace(/^acct:/, "").replace(/^@/, "");
}

async function lookupActor(ctx, handle) {
  const h = normHandle(handle);
  let obj;
  try {
    obj = await ctx.lookupObject(/^https?:/.test(h) ? h : `@${h}`);
  } catch (e) {
    throw new HttpError(502, `lookup of ${h} failed: ${e.message}`);
  }
  if (obj == null) throw new HttpError(404, `${h}: not found (WebFinger or actor fetch failed)`);
  if (!isActor(obj)) throw new HttpError(404, `${h}: not an actor (${obj.constructor.name})`);
  if (obj.id == null || obj.inboxId == null) throw new HttpError(502, `${h}: actor without id or inbox`);
  return obj;
}

async function deliver(ctx, recipients, activity, what) {
  if (recipients.length === 0) {
    log(`${what} ${activity.id.href}: no recipients`);
    return [];
  }
  try {
    await ctx.sendActivity({ identifier: USER }, recipients, activity);
  } catch (e) {
    log(`sending ${what} ${activity.id.href} failed: ${e.message}`);
    throw new HttpError(502, `delivery of ${what} failed: ${e.message}`);
  }
  const inboxes = recipients.map((r) => r.inboxId?.href);
  log(`sent ${what} ${activity.id.href} to ${inboxes.join(" ")}`);
  return inboxes;
}

function postRecipients(p) {
  const list = [];
  if (p.to === "public" || p.to === "followers") list.push(...followers.map(recipientOf));
  if (p.mention && !list.some((r) => r.id.href === p.mention.id)) list.push(recipientOf(p.mention));
  return list;
}

function findPost(noteId) {
  if (typeof noteId !== "string") throw new HttpError(400, "missing \"note_id\"");
  const p = posts.find((x) => x.note_id === noteId || x.id === noteId);
  if (p == null) throw new HttpError(404, `no post ${noteId}`);
  if (p.deleted) throw new HttpError(409, `post ${noteId} is deleted`);
  return p;
}

function readInboxLog() {
  let text;
  try {
    text = fs.readFileSync(INBOX_LOG, "utf8");
  } catch (e) {
    if (e.code === "ENOENT") return [];
    throw e;
  }
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}

const contentText = (c) => (c == null ? null : String(c));

async function describeItem(ctx, item) {
  const out = { type: item.constructor.name, id: item.id?.href ?? null };
  if (item instanceof Activity) {
    out.object_id = item.objectId?.href ?? null;
    let obj = null;
    try {
      obj = await item.getObject(ctx);
    } catch (e) {
      out.error = `object: ${e.message}`;
    }
    out.object_type = obj ? obj.constructor.name : null;
    out.content = obj ? contentText(obj.content) : null;
  } else {
    out.object_id = out.id;
    out.object_type = out.type;
    out.content = contentText(item.content);
  }
  return out;
}

const routes = {
  "GET /health": async () => ({
    ok: true,
    actor: `${ORIGIN}/users/${USER}`,
    handle: `${USER}@${DOMAIN}`,
    fedify: FEDIFY_VERSION,
  }),

  "POST /follow": async (body) => {
    const ctx = ctlContext();
    const actor = await lookupActor(ctx, body.handle);
    const follow = new Follow({ id: newActivityUri(), actor: actorUri(ctx), object: actor.id, to: actor.id });
    const rec = {
      handle: normHandle(body.handle),
      actor_id: actor.id.href,
      inbox: actor.inboxId.href,
      shared_inbox: actor.endpoints?.sharedInbox?.href ?? null,
      follow_id: follow.id.href,
      state: "pending",
      since: new Date().toISOString(),
    };
    following = following.filter((f) => f.actor_id !== rec.actor_id);
    following.push(rec);
    saveFollowing();
    await deliver(ctx, [actor], follow, "Follow");
    return { follow_id: rec.follow_id, actor_id: rec.actor_id };
  },

  "POST /unfollow": async (body) => {
    const ctx = ctlContext();
    const h = normHandle(body.handle);
    const f = following.find((x) => x.handle === h || x.actor_id === h);
    if (f == null) throw new HttpError(404, `not following ${h}`);
    const undo = new Undo({
      id: newActivityUri(),
      actor: actorUri(ctx),
      object: new Follow({ id: new URL(f.follow_id), actor: actorUri(ctx), object: new URL(f.actor_id) }),
      to: new URL(f.actor_id),
    });
    following = following.filter((x) => x !== f);
    saveFollowing();
    await deliver(ctx, [recipientOf(f)], undo, "Undo(Follow)");
    return { undo_id: undo.id.href, follow_id: f.follow_id, actor_id: f.actor_id };
  },

  "POST /post": async (body) => {
    const ctx = ctlContext();
    if (typeof body.content !== "string") throw new HttpError(400, "missing \"content\"");
    let to = body.to ?? (body.mention ? "direct" : "public");
    if (!["public", "followers", "direct"].includes(to)) throw new HttpError(400, "\"to\" must be public, followers or direct");
    let mention = null;
    if (body.mention) {
      const actor = await lookupActor(ctx, body.mention);
      mention = {
        handle: normHandle(body.mention),
        id: actor.id.href,
        inbox: actor.inboxId.href,
        shared_inbox: actor.endpoints?.sharedInbox?.href ?? null,
      };
    } else if (to === "direct") {
      throw new HttpError(400, "\"direct\" needs \"mention\"");
    }
    const id = crypto.randomUUID();
    const p = {
      id,
      note_id: ctx.getObjectUri(Note, { identifier: USER, id }).href,
      activity_id: newActivityUri().href,
      content: body.content,
      to,
      mention,
      in_reply_to: body.in_reply_to ?? null,
      published: new Date().toISOString(),
      updated: null,
      deleted: false,
    };
    posts.push(p);
    savePosts();
    const delivered = await deliver(ctx, postRecipients(p), buildCreate(ctx, p), "Create(Note)");
    return { note_id: p.note_id, activity_id: p.activity_id, delivered_to: delivered };
  },

  "POST /update": async (body) => {
    const ctx = ctlContext();
    const p = findPost(body.note_id);
    if (typeof body.content !== "string") throw new HttpError(400, "missing \"content\"");
    p.content = body.content;
    p.updated = new Date().toISOString();
    savePosts();
    const { tos, ccs } = audience(ctx, p);
    const update = new Update({
      id: newActivityUri(),
      actor: actorUri(ctx),
      object: buildNote(ctx, p),
      updated: Temporal.Instant.from(p.updated),
      tos,
      ccs,
    });
    const delivered = await deliver(ctx, postRecipients(p), update, "Update(Note)");
    return { note_id: p.note_id, activity_id: update.id.href, delivered_to: delivered };
  },

  "POST /delete": async (body) => {
    const ctx = ctlContext();
    const p = findPost(body.note_id);
    const { tos, ccs } = audience(ctx, p);
    const now = new Date().toISOString();
    const del = new Delete({
      id: newActivityUri(),
      actor: actorUri(ctx),
      object: new Tombstone({ id: new URL(p.note_id), deleted: Temporal.Instant.from(now) }),
      tos,
      ccs,
    });
    const recipients = postRecipients(p);
    p.deleted = true;
    p.deleted_at = now;
    savePosts();
    const delivered = await deliver(ctx, recipients, del, "Delete(Tombstone)");
    return { note_id: p.note_id, activity_id: del.id.href, delivered_to: delivered };
  },

  "POST /like": async (body) => {
    const ctx = ctlContext();
    if (typeof body.object_id !== "string") throw new HttpError(400, "missing \"object_id\"");
    const actor = await lookupActor(ctx, body.handle);
    const like = new Like({ id: newActivityUri(), actor: actorUri(ctx), object: new URL(body.object_id), to: actor.id });
    const delivered = await deliver(ctx, [actor], like, "Like");
    return { activity_id: like.id.href, delivered_to: delivered };
  },

  "POST /announce": async (body) => {
    const ctx = ctlContext();
    if (typeof body.object_id !== "string") throw new HttpError(400, "missing \"object_id\"");
    const recipients = followers.map(recipientOf);
    const ccs = [ctx.getFollowersUri(USER)];
    if (body.handle) {
      const actor = await lookupActor(ctx, body.handle);
      ccs.push(actor.id);
      if (!recipients.some((r) => r.id.href === actor.id.href)) recipients.push(actor);
    }
    const announce = new Announce({
      id: newActivityUri(),
      actor: actorUri(ctx),
      object: new URL(body.object_id),
      published: Temporal.Now.instant(),
      tos: [PUBLIC_COLLECTION],
      ccs,
    });
    const delivered = await deliver(ctx, recipients, announce, "Announce");
    return { activity_id: announce.id.href, delivered_to: delivered };
  },

  // Any activity, given as JSON-LD; "id" and "actor" default to a new id and
  // this peer's actor. Sent to the actor of "handle" and/or, with
  // "followers": true, to the followers.
  "POST /send": async (body) => {
    const ctx = ctlContext();
    const json = body.activity;
    if (json == null || typeof json !== "object" || Array.isArray(json)) throw new HttpError(400, "missing \"activity\" object");
    const doc = { "@context": "https://www.w3.org/ns/activitystreams", ...json };
    doc.id ??= newActivityUri().href;
    doc.actor ??= actorUri(ctx).href;
    let activity;
    try {
      activity = await Activity.fromJsonLd(doc, { documentLoader: ctx.documentLoader, contextLoader: ctx.contextLoader });
    } catch (e) {
      throw new HttpError(400, `not an activity: ${e.message}`);
    }
    const recipients = body.followers ? followers.map(recipientOf) : [];
    if (body.handle) {
      const actor = await lookupActor(ctx, body.handle);
      if (!recipients.some((r) => r.id.href === actor.id.href)) recipients.push(actor);
    }
    if (recipients.length === 0) throw new HttpError(400, "no recipients: give \"handle\" and/or \"followers\": true");
    const delivered = await deliver(ctx, recipients, activity, activity.constructor.name);
    return { activity_id: activity.id.href, delivered_to: delivered };
  },

  "GET /inbox": async (_body, query) => {
    let list = readInboxLog();
    const type = query.get("type");
    if (type) list = list.filter((e) => e.type === type);
    return list;
  },

  "DELETE /inbox": async () => {
    fs.rmSync(INBOX_LOG, { force: true });
    return { ok: true };
  },

  "GET /followers": async () => followers.map((f) => f.id),

  "GET /following": async () => following,

  "GET /posts": async () => posts,

  "GET /lookup": async (_body, query) => {
    const ctx = ctlContext();
    const actor = await lookupActor(ctx, query.get("handle"));
    const limit = query.has("limit") ? Math.max(0, parseInt(query.get("limit"), 10) || 0) : 100;
    const result = {
      id: actor.id.href,
      type: actor.constructor.name,
      inbox: actor.inboxId?.href ?? null,
      shared_inbox: actor.endpoints?.sharedInbox?.href ?? null,
      outbox: actor.outboxId?.href ?? null,
      followers: actor.followersId?.href ?? null,
      following: actor.followingId?.href ?? null,
      preferredUsername: contentText(actor.preferredUsername),
      name: contentText(actor.name),
      summary: contentText(actor.summary),
      public_key_id: actor.publicKeyId?.href ?? null,
      outbox_total: null,
      items: [],
    };
    if (actor.outboxId != null && limit > 0) {
      let outbox;
      try {
        outbox = await actor.getOutbox(ctx);
      } catch (e) {
        throw new HttpError(502, `fetching the outbox ${actor.outboxId.href} failed: ${e.message}`);
      }
      if (outbox == null) throw new HttpError(502, `outbox ${actor.outboxId.href} is not a collection`);
      result.outbox_total = outbox.totalItems ?? null;
      try {
        for await (const item of ctx.traverseCollection(outbox)) {
          result.items.push(await describeItem(ctx, item));
          if (result.items.length >= limit) break;
        }
      } catch (e) {
        throw new HttpError(502, `traversing ${actor.outboxId.href} failed after ${result.items.length} items: ${e.message}`);
      }
    }
    return result;
  },
};

async function handleControl(req, res) {
  const url = new URL(req.url, `http://127.0.0.1:${opts.ctlPort}`);
  const route = routes[`${req.method} ${url.pathname.replace(/\/+$/, "") || "/"}`];
  let status = 200;
  let answer;
  try {
    if (route == null) throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
    const raw = (await readBody(req)).toString("utf8");
    let body = {};
    if (raw.trim() !== "") {
      try {
        body = JSON.parse(raw);
      } catch {
        throw new HttpError(400, "body is not JSON");
      }
    }
    answer = await route(body ?? {}, url.searchParams);
  } catch (e) {
    status = e instanceof HttpError ? e.status : 500;
    answer = { error: e.message };
    if (!(e instanceof HttpError)) log(`control ${req.method} ${url.pathname}: ${e?.stack ?? e}`);
  }
  if (url.pathname !== "/health") log(`control ${req.method} ${url.pathname}${url.search} -> ${status}`);
  const out = Buffer.from(JSON.stringify(answer) + "\n");
  res.writeHead(status, { "content-type": "application/json", "content-length": out.length });
  res.end(out);
}

// --- start -------------------------------------------------------------------
function listen(server, port, what) {
  return new Promise((resolve, reject) => {
    server.once("error", (e) => reject(new Error(`${what} on 127.0.0.1:${port}: ${e.message}`)));
    server.listen(port, "127.0.0.1", resolve);
  });
}

const wrap = (fn, what) => (req, res) =>
  fn(req, res).catch((e) => {
    log(`${what}: ${e?.stack ?? e}`);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });

const fedServer = http.createServer(wrap(handleFederation, "federation"));
const ctlServer = http.createServer(wrap(handleControl, "control"));
fedServer.keepAliveTimeout = 5000;
try {
  await listen(fedServer, opts.port, "federation server");
  await listen(ctlServer, opts.ctlPort, "control server");
} catch (e) {
  log(e.message);
  process.exit(1);
}
log(`ready: ${ORIGIN}/users/${USER} (handle ${USER}@${DOMAIN}) on 127.0.0.1:${opts.port}, control on 127.0.0.1:${opts.ctlPort}, data ${DATA}`);

let stopping = false;
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping`);
    fedServer.close();
    ctlServer.close();
    fedServer.closeAllConnections?.();
    ctlServer.closeAllConnections?.();
    setTimeout(() => process.exit(0), 200).unref();
  });
}
