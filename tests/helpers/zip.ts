/** Reads zips in tests (the diagnostics bundle). */
import yauzl from 'yauzl';

/** Every file of a zip, as text. */
export async function unzip(buf: Buffer): Promise<Map<string, string>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.fromBuffer(buf, { lazyEntries: true }, (e, z) => (e ? reject(e) : resolve(z!))));
  const out = new Map<string, string>();
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (e, s) => {
        if (e || !s) return reject(e);
        const parts: Buffer[] = [];
        s.on('data', (c: Buffer) => parts.push(c));
        s.on('end', () => { out.set(entry.fileName, Buffer.concat(parts).toString('utf8')); zip.readEntry(); });
      });
    });
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
  return out;
}
