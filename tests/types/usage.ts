// A program that uses every export of the package's declarations (js/index.d.ts) the way a user
// does. It is never run, only type-checked (tests/js/types.test.mjs runs `tsc -p tests/types`):
// a declaration that stops matching how the package is used fails the check, and the
// `@ts-expect-error` lines fail it if the declarations stop refusing wrong calls.

import {
  AUTO_WEBGPU_MIN_ROWS, CpuWorkerError, Encoder, IdTable, RqvaeError, SentenceEncoder, codeUsage,
  defaultModelUrl, defaultTextModelUrl, encodeStream, initTextWasm, initWasm, miniLmModelUrl,
  readEmbeddings, readItems, readNpy, readTitles, wasmVariant, webgpuAdapterKind, webgpuAvailable,
} from 'rqvae';
import type {
  AddOptions, AssetSource, AssignReport, BackendChoice, ByteSourceInput, Churn, CodeUsage,
  EmbedOptions, EmbeddingsBatch, EmbeddingsFormat, EncodeOptions, EncodedBatch, IdTableEntry,
  IdTableHeader, ItemId, LevelUsage, LoadOptions, NpyHeader, ReadOptions, RqVaeConfig,
  RqvaeErrorCode, StreamProgress, TableQuality, TextModelConfig,
} from 'rqvae';

export async function vectorsToIds(npy: Uint8Array, file: Blob): Promise<void> {
  await initWasm({ wasm: new URL('./rqvae_bg.wasm', import.meta.url) });
  const variant: 'relaxed-simd' | 'simd128' | 'custom' = await wasmVariant();
  const gpu: boolean = await webgpuAvailable();
  const kind: 'none' | 'software' | 'hardware' = await webgpuAdapterKind();
  const minRows: number = AUTO_WEBGPU_MIN_ROWS;
  const backend: BackendChoice = gpu && kind === 'hardware' && minRows > 0 ? 'auto' : 'cpu';
  const load: LoadOptions = { backend, threads: 2 };
  const source: AssetSource = defaultModelUrl;
  const encoder: Encoder = await Encoder.load(source, load);
  const other: Encoder = await Encoder.loadDefault({ url: new URL(defaultModelUrl), backend: 'cpu' });
  const minilm: Encoder = await Encoder.loadDefault({ model: 'minilm', url: miniLmModelUrl });
  const config: RqVaeConfig = encoder.config;
  const { data, rows, dim, dtype } = await readNpy(npy, { maxBytes: 1 << 30 });
  const options: EncodeOptions = {
    dim, batchSize: 1024, onProgress: ({ done, total }) => done / total, signal: new AbortController().signal,
  };
  const ids: Uint16Array = await encoder.encode(data, options);
  const back: Float32Array = await encoder.decode(ids, { batchSize: 512 });
  const state: [number, string, boolean, string, number, string] = [
    encoder.threads, encoder.backend, encoder.hasDecoder, encoder.fingerprint, rows, dtype,
  ];

  const add: AddOptions = { ids: [1, 'sku-2'], dim: config.input_dim, reassignChanged: false, batchSize: 4096 };
  const { table, report } = await IdTable.assign(encoder, data, { ...add, reassign: true });
  const assigned: AssignReport = report;
  const empty: IdTable = await IdTable.create(encoder, { reassign: false });
  const loaded: IdTable = await IdTable.load(table.toJsonl());
  const added: AssignReport = await loaded.add(encoder, data.subarray(0, dim), { ids: ['new'] });
  const header: IdTableHeader = loaded.header;
  const entries: IdTableEntry[] = loaded.entries();
  const quality: TableQuality = loaded.quality();
  const churn: Churn = loaded.churn(table);
  const level: LevelUsage | undefined = quality.levels[0];
  const exports: string[] = [loaded.toCsv(), loaded.toLcRecJson(), String(loaded.size)];

  const format: EmbeddingsFormat = 'npy';
  const read: ReadOptions = { format, name: 'x.npy', batchRows: 4096, onHeader: (h: NpyHeader) => h.rows };
  const input: ByteSourceInput = file;
  for await (const batch of readEmbeddings(input, { ...read, dim: 768 })) {
    const b: EmbeddingsBatch = batch;
    b.rows.length;
  }
  for await (const batch of encodeStream(encoder, file, { onProgress: (p: StreamProgress) => p.rowsDone })) {
    const b: EncodedBatch = batch;
    b.ids.length;
  }
  const items: { ids: ItemId[]; titles: string[] } = await readItems(file, { expectedRows: rows });
  const usage: CodeUsage = await codeUsage(ids, { levels: config.levels, codebookSize: config.codebook_size });

  try {
    await encoder.encode(data);
  } catch (e) {
    if (e instanceof CpuWorkerError) {
      const code: 'ERR_WORKER' = e.code;
    } else if (e instanceof RqvaeError) {
      const code: RqvaeErrorCode = e.code;
    }
  }
  for (const e of [encoder, other, minilm]) e.free();
  for (const t of [table, empty, loaded]) t.free();
  void [back, state, assigned, added, header, entries, churn, level, exports, items, usage, variant];

  // @ts-expect-error: rows are a typed array, not a plain array of numbers
  await encoder.encode([1, 2, 3]);
  // @ts-expect-error: there is no 'gpu' backend
  await Encoder.loadDefault({ backend: 'gpu' });
  // @ts-expect-error: the shipped models are 'mpnet' and 'minilm'
  await Encoder.loadDefault({ model: 'bert' });
}

export async function titlesToIds(file: Blob): Promise<void> {
  await initTextWasm({ wasm: new URL('./rqvae_text_bg.wasm', import.meta.url) });
  const text: SentenceEncoder = await SentenceEncoder.loadDefault({ backend: 'cpu', threads: 2 });
  const own: SentenceEncoder = await SentenceEncoder.load(defaultTextModelUrl, { backend: 'auto' });
  const config: TextModelConfig = text.config;
  const facts: [number, string, number, string, string, number] = [
    text.dim, text.source, text.threads, text.backend, config.pooling, config.max_seq_length,
  ];
  const tokens: Uint32Array = await text.tokenize('Super Mario 64');
  const { ids, titles } = await readTitles(file, { format: 'csv', field: 'title', name: 'shop.csv' });
  const embed: EmbedOptions = { batchSize: 256, onProgress: ({ done }) => done, signal: AbortSignal.timeout(60_000) };
  const vectors: Float32Array = await text.embed(titles, embed);
  const encoder = await Encoder.loadDefault({ model: 'minilm' });
  const named: ItemId[] = ids.map((id, row) => id ?? row);
  const { table } = await IdTable.assign(encoder, titles, { ids: named, textEncoder: text });
  await table.add(encoder, ['A new game'], { ids: ['sku-new'], textEncoder: text, onProgress: () => {} });
  void [facts, tokens, vectors];
  for (const e of [text, own]) e.free();
  encoder.free();
  table.free();

  // @ts-expect-error: texts are strings
  await text.embed([1, 2]);
  // @ts-expect-error: a textEncoder is a SentenceEncoder, not an Encoder
  await IdTable.assign(encoder, titles, { textEncoder: encoder });
}
