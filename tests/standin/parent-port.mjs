// The stand-in's utility process: `process.parentPort` as Electron gives it to a
// utilityProcess child (docs/api/parent-port.md): 'message' events carry
// `{ data }`, postMessage() goes to the main process. A child whose app died is
// ended at once, as Electron's utility processes die with the app.
import { EventEmitter } from 'node:events';

const port = new EventEmitter();
port.postMessage = (message) => { if (process.connected) process.send(message); };
port.start = () => undefined;
process.on('message', (data) => port.emit('message', { data, ports: [] }));
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
Object.defineProperty(process, 'parentPort', { value: port, enumerable: false });
