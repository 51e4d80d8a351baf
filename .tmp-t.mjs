import { request, Agent } from 'undici';
import http from 'node:http';
const page = 'x'.repeat(4 << 20);
let conns = 0;
const s = http.createServer((req,res)=>{ res.writeHead(req.url==='/ok'?200:404).end(req.url==='/ok'?'ok':page); });
s.on('connection', () => conns++);
await new Promise(r=>s.listen(0,'127.0.0.1',r));
const base = `http://127.0.0.1:${s.address().port}`;
const dispatcher = new Agent({ connections: 1 });
const r1 = await request(base + '/x', { dispatcher });
console.log('status', r1.statusCode);
const t = Date.now();
try { const r2 = await request(base + '/ok', { dispatcher, signal: AbortSignal.timeout(2000) }); console.log(await r2.body.text(), Date.now()-t, 'conns', conns); } catch (e) { console.log('err', e.name, Date.now()-t); }
await dispatcher.close(); s.closeAllConnections(); s.close();
