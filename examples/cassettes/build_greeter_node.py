"""Writes ``greeter-node.jsonl``: a Node.js service delivered with the ``node-service``
toolchain (tests with ``node --test``, started on the socket vitco hands in). Hand-written
answers. Run ``python examples/cassettes/build_greeter_node.py``."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from cassette import APPROVE, SOUND, call, w, write  # noqa: E402

SPEC = {
    "title": "Greeter API",
    "summary": "A Node.js HTTP service with no dependencies that greets by name and reports "
    "its health.",
    "user_stories": [
        {
            "id": "S1",
            "story": "As a front-end developer, I want a greeting for a name, so that the page "
            "can show it.",
            "acceptance_criteria": [
                "GET /hello?name=Ada answers 200 with {'message': 'Hello, Ada!'}",
                "GET /hello answers 200 with {'message': 'Hello, world!'}",
                "a name over 50 characters answers 400 with {'error': ...}",
                "any other path answers 404",
            ],
        },
        {
            "id": "S2",
            "story": "As an operator, I want a health endpoint, so that monitoring knows the "
            "service is up.",
            "acceptance_criteria": ["GET /health answers 200 with {'status': 'ok'}"],
        },
    ],
    "out_of_scope": ["frameworks", "persistence"],
}

PLAN = {
    "toolchain": "node-service",
    "tasks": [
        {
            "id": "T1",
            "title": "Greeting service",
            "description": "Create server.js exporting handler(req, res) for /hello, /health and "
            "404s, and starting http.createServer(handler).listen({fd}) with the fd from "
            "process.argv[2] when run as the main module; package.json with no dependencies.",
            "complexity": 3,
            "depends_on": [],
            "stories": ["S1", "S2"],
        }
    ],
}

SERVER = """'use strict';
const http = require('node:http');

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function handler(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/health') {
    return send(res, 200, { status: 'ok' });
  }
  if (req.method === 'GET' && url.pathname === '/hello') {
    const name = url.searchParams.get('name') || 'world';
    if (name.length > 50) {
      return send(res, 400, { error: 'name must be at most 50 characters' });
    }
    return send(res, 200, { message: `Hello, ${name}!` });
  }
  return send(res, 404, { error: 'not found' });
}

if (require.main === module) {
  http.createServer(handler).listen({ fd: Number(process.argv[2]) });
}

module.exports = { handler };
"""

PACKAGE = """{
  "name": "greeter",
  "version": "1.0.0",
  "private": true,
  "main": "server.js",
  "scripts": { "start": "node server.js", "test": "node --test" }
}
"""

TESTS = """'use strict';
const test = require('node:test');
const assert = require('node:assert');
const http = require('node:http');
const { handler } = require('../server.js');

async function get(path) {
  const server = http.createServer(handler).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${server.address().port}${path}`);
    return { status: res.status, body: await res.json() };
  } finally {
    server.close();
  }
}

test('greets by name', async () => {
  assert.deepStrictEqual(await get('/hello?name=Ada'), {
    status: 200, body: { message: 'Hello, Ada!' },
  });
});

test('greets the world without a name', async () => {
  assert.deepStrictEqual((await get('/hello')).body, { message: 'Hello, world!' });
});

test('refuses a long name', async () => {
  const res = await get('/hello?name=' + 'x'.repeat(51));
  assert.strictEqual(res.status, 400);
  assert.ok(res.body.error);
});

test('health', async () => {
  assert.deepStrictEqual(await get('/health'), { status: 200, body: { status: 'ok' } });
});

test('unknown paths are 404', async () => {
  assert.strictEqual((await get('/nope')).status, 404);
});
"""

CALLS = [
    call("analyst", "analyze", SPEC),
    call("reviewer", "check_spec", SOUND),
    call("manager", "plan", PLAN),
    call(
        "developer",
        "implement",
        {
            "files": [
                w("server.js", SERVER),
                w("package.json", PACKAGE),
                w("README.md", "# Greeter API\n\n`node server.js FD`; GET /hello?name=X.\n"),
            ],
            "message": "Add the greeting service",
        },
        "T1",
    ),
    call("reviewer", "review", APPROVE, "T1"),
    call("qa", "write_tests", {"files": [w("test/greeter.test.js", TESTS)]}, "T1"),
    call(
        "devops",
        "deploy",
        {
            "build": [],
            "start": ["node", "server.js", "{fd}"],
            "health_path": "/health",
            "smoke": [
                {"method": "GET", "path": "/hello?name=Ada", "expect_status": 200},
                {"method": "GET", "path": "/nope", "expect_status": 404},
            ],
        },
    ),
]


def main() -> None:
    write(
        HERE / "greeter-node.jsonl",
        "examples/briefs/greeter-node.md",
        CALLS,
        "hand-written answers for the node-service toolchain; see build_greeter_node.py",
    )


if __name__ == "__main__":
    main()
