// A TCP proxy between the browser and the hub's web port that the test can
// cut: cut() resets every proxied connection, refuse(true) resets every new
// one as soon as it is accepted (the browser sees the hub gone), refuse(false)
// lets them through again. It sniffs the request line and Last-Event-ID of
// each HTTP request it forwards, to show how the page reconnected.
import net from 'node:net';

export class CutProxy {
    constructor(host, port) {
        this.host = host;
        this.port = port;
        this.pairs = new Set();
        this.refusing = false;
        this.refused = 0;
        this.accepted = 0;
        this.requests = []; // {at, method, path, lastEventId}
        this.server = net.createServer((c) => this.#accept(c));
    }

    listen() {
        return new Promise((resolve, reject) => {
            this.server.once('error', reject);
            this.server.listen(0, '127.0.0.1', () => resolve(this.server.address().port));
        });
    }

    #accept(client) {
        if (this.refusing) {
            this.refused++;
            client.on('error', () => {});
            client.resetAndDestroy();
            return;
        }
        this.accepted++;
        const up = net.connect(this.port, this.host);
        const pair = { client, up };
        this.pairs.add(pair);
        const end = () => {
            this.pairs.delete(pair);
            client.destroy();
            up.destroy();
        };
        client.on('error', end).on('close', end);
        up.on('error', end).on('close', end);
        client.on('data', (b) => {
            const head = b.toString('latin1', 0, Math.min(b.length, 4096));
            const m = /^(GET|POST|HEAD|PUT|DELETE|OPTIONS) (\S+) HTTP/.exec(head);
            if (m) {
                const lei = /\r\nlast-event-id: *([^\r\n]*)/i.exec(head);
                this.requests.push({ at: Date.now(), method: m[1], path: m[2], lastEventId: lei ? lei[1] : null });
            }
        });
        client.pipe(up);
        up.pipe(client);
    }

    // Resets every proxied connection (both sides).
    cut() {
        let n = 0;
        for (const { client, up } of this.pairs) {
            n++;
            client.resetAndDestroy();
            up.destroy();
        }
        this.pairs.clear();
        return n;
    }

    refuse(on) {
        this.refusing = on;
    }

    close() {
        this.cut();
        return new Promise((resolve) => this.server.close(() => resolve()));
    }
}
