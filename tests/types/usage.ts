// A program that uses every export of the package's declarations (js/index.d.ts) the way a user
// does. It is never run, only type-checked (tests/js/types.test.mjs runs
// `tsc -p tests/types/tsconfig.json`, strict): a declaration that stops matching how the package
// is used fails the check, and the `@ts-expect-error` lines fail it if the declarations stop
// refusing wrong calls. `'rqvae'` resolves as a user's import does: the package's own name,
// through package.json `exports` (condition `types`).

import {
  AUTO_WEBGPU_MIN_ROWS, CpuWorkerError, Encoder, IdTable, RqvaeError, SentenceEncoder, codeUsage,
  defaultModelUrl, defaultTextModelUrl, encodeStream, initTextWasm, initWasm, mapLayout, miniLmModelUrl, prefixLabels,
  readEmbeddings, readItems, readNpy, readTitles, wasmVariant, webgpuAdapterKind, webgpuAvailable,
} from 'rqvae';
import type {
  AddOptions, AssetSource, AssignReport, BackendChoice, ByteSourceInput, Churn, CodeUsage,
  EmbedOptions, EmbeddingsBatch, EmbeddingsFormat, EncodeOptions, EncodedBatch, IdTableEntry,
  IdTableHeader, ItemId, LevelUsage, LoadOptions, MapProgress, NpyHeader, PrefixLabel, ReadOptions, RqVaeConfig,
  RqvaeErrorCode, StreamProgress, TableQuality, TextModelConfig, TokenExportOptions,
} from 'rqvae';

/** Loading: the wasm module, the backends, every kind of weights source. */
export async function loading(weights: Uint8Array, buffer: ArrayBuffer, response: Response, module: WebAssembly.Module): Promise<Encoder[]> {
  await initWasm({ wasm: new URL('./rqvae_bg.wasm', import.meta.url) });
  await initWasm({ wasm: module });
  await initWasm();
  const variant: 'relaxed-simd' | 'simd128' | 'custom' = await wasmVariant();
  const gpu: boolean = await webgpuAvailable();
  const kind: 'none' | 'software' | 'hardware' = await webgpuAdapterKind();
  const minRows: number = AUTO_WEBGPU_MIN_ROWS;
  const backend: BackendChoice = gpu && kind === 'hardware' && minRows > 0 ? 'auto' : 'cpu';
  const load: LoadOptions = { backend, threads: 2 };
  const urls: string[] = [defaultModelUrl, miniLmModelUrl, defaultTextModelUrl, variant];
  const sources: AssetSource[] = [
    weights, buffer, new DataView(buffer), response, new URL(defaultModelUrl), 'models/own.safetensors',
  ];
  const encoders: Encoder[] = await Promise.all(sources.map((s) => Encoder.load(s, load)));
  encoders.push(await Encoder.loadDefault());
  encoders.push(await Encoder.loadDefault({ url: new URL(defaultModelUrl), backend: 'webgpu' }));
  encoders.push(await Encoder.loadDefault({ model: 'minilm', url: miniLmModelUrl, threads: 4 }));
  encoders.push(await Encoder.loadDefault({ model: 'mpnet' }));
  void urls;

  // @ts-expect-error: there is no 'gpu' backend
  await Encoder.load(weights, { backend: 'gpu' });
  // @ts-expect-error: there is no 'gpu' backend
  await Encoder.loadDefault({ backend: 'gpu' });
  // @ts-expect-error: the shipped models are 'mpnet' and 'minilm'
  await Encoder.loadDefault({ model: 'bert' });
  // @ts-expect-error: weights are bytes, a Response or a location, not numbers
  await Encoder.load([1, 2, 3]);
  // @ts-expect-error: made by Encoder.load, not new
  new Encoder();
  return encoders;
}

/** Vectors to IDs and back, and code usage. */
export async function encoding(encoder: Encoder, npy: Uint8Array, npyBuffer: ArrayBuffer, f16: Uint16Array): Promise<void> {
  const { data, rows, dim, dtype } = await readNpy(npy, { maxBytes: 1 << 30 });
  const fromBuffer: Float32Array = (await readNpy(npyBuffer)).data;
  const config: RqVaeConfig = encoder.config;
  const widths: number[] = [config.input_dim, ...config.hidden_dims, config.latent_dim];
  const options: EncodeOptions = {
    dim, batchSize: 1024, onProgress: ({ done, total }) => done / total, signal: new AbortController().signal,
  };
  const ids: Uint16Array = await encoder.encode(data, options);
  const half: Uint16Array = await encoder.encode(f16, { dim: config.input_dim });
  const back: Float32Array = await encoder.decode(ids, { batchSize: 512 });
  const fromArray: Float32Array = await encoder.decode([1, 2, 3]);
  const latents: Float32Array = await encoder.latents(data, { dim, batchSize: 256, signal: new AbortController().signal });
  const steps: MapProgress[] = [];
  const map: Float32Array = await mapLayout(latents, {
    dim: config.latent_dim, neighbours: 10, epochs: 50, seed: 7, stepEpochs: 5,
    signal: new AbortController().signal, onProgress: (p) => steps.push(p),
  });
  const settled: number[] = steps.map(({ epochsDone, epochs, positions }) => epochsDone / epochs + positions.length);
  const facts: [number, 'cpu' | 'webgpu', boolean, string, number, 'float32' | 'float16'] = [
    encoder.threads, encoder.backend, encoder.hasDecoder, encoder.fingerprint, rows, dtype,
  ];
  const usage: CodeUsage = await codeUsage(ids, { levels: config.levels, codebookSize: config.codebook_size });
  const level: LevelUsage | undefined = usage.levels[0];
  const spread: number[] = [usage.unique / usage.rows, level?.used ?? 0, level?.dead ?? 0, level?.utilisation ?? 0,
    level?.perplexity ?? 0, level?.gini ?? 0, level?.entropyRatio ?? 0];
  encoder.free();
  void [fromBuffer, widths, half, back, fromArray, facts, spread, map, settled];

  // @ts-expect-error: rows are a typed array, not a string
  await encoder.encode('0.1,0.2,0.3');
  // @ts-expect-error: rows are a typed array, not a plain array of numbers
  await encoder.encode([1, 2, 3]);
  // @ts-expect-error: IDs are integers, not float32
  await encoder.decode(new Float32Array(3));
  // @ts-expect-error: .npy bytes, not a path
  await readNpy('embeddings.npy');
  // @ts-expect-error: codeUsage needs the model's levels and codebook size
  await codeUsage(ids);
  // @ts-expect-error: a map needs the latents' width
  await mapLayout(new Float32Array(64));
  // @ts-expect-error: the progress callback gets { done, total }
  await encoder.encode(data, { onProgress: (p: { rowsDone: number }) => p });
}

/** ID tables: made, grown, saved, loaded, measured. */
export async function tables(encoder: Encoder, rows: Float32Array, saved: Uint8Array, savedBuffer: ArrayBuffer): Promise<void> {
  const add: AddOptions = { ids: [1, 'sku-2'], dim: encoder.config.input_dim, reassignChanged: false, batchSize: 4096 };
  const { table, report } = await IdTable.assign(encoder, rows, { ...add, reassign: true });
  const assigned: AssignReport = report;
  const counts: number[] = [
    report.rows, report.added, report.kept, report.reassignedChanged, report.moved, report.suffixed,
    report.tableItems, report.uniqueNearest, report.uniqueAssigned, report.uniqueFull,
  ];
  const changed: ItemId[] = report.changed;
  const cost: number = report.cost === null ? 0 : report.cost.cosineAssigned - report.cost.cosineNearest
    + report.cost.movedCosineAssigned - report.cost.movedCosineNearest + report.cost.movedRows;
  const empty: IdTable = await IdTable.create(encoder, { reassign: false });
  const fresh: IdTable = await IdTable.create(encoder);
  const loaded: IdTable = await IdTable.load(table.toJsonl());
  const fromBytes: IdTable = await IdTable.load(saved);
  const fromBuffer: IdTable = await IdTable.load(savedBuffer);
  const added: AssignReport = await loaded.add(encoder, rows.subarray(0, encoder.config.input_dim), { ids: ['new'], reassignChanged: true });
  const header: IdTableHeader = loaded.header;
  const described: [string, number, string, number, number, 'reassign' | 'suffix'] = [
    header.format, header.version, header.model, header.levels, header.codebookSize, header.resolution,
  ];
  const entries: IdTableEntry[] = loaded.entries();
  const entry: IdTableEntry | undefined = entries[0];
  const moved: number | null = entry?.reassignedFrom ?? null;
  const line: [ItemId, number[], string] | undefined = entry && [entry.id, entry.codes, entry.tokens];
  const quality: TableQuality = loaded.quality();
  const shares: number[] = [
    quality.items, quality.uniqueFraction, quality.uniqueNearestFraction, quality.collisionFreeRate,
    quality.largestGroup, quality.uniqueFullFraction, quality.moved, quality.suffixed, quality.levels.length,
  ];
  const churn: Churn = loaded.churn(table);
  const drift: number[] = [churn.common, churn.changed, churn.churn, churn.onlyPrevious, churn.onlyCurrent];
  const files: string[] = [loaded.toJsonl(), loaded.toCsv(), loaded.toLcRecJson(), String(loaded.size)];
  const tokenOptions: TokenExportOptions = { tokenOffset: 151_643 };
  const tokenFiles: string[] = [
    loaded.toVocabularyJson(), loaded.toVocabularyJson(tokenOptions), loaded.toTokensJsonl({ tokenOffset: 0 }),
    loaded.toTokensCsv(), loaded.toPrefixTreeJson(tokenOptions),
  ];
  const names: Map<string, string> = loaded.readLabels(loaded.labelsFile({ '51': 'Castlevania' }));
  const labels: PrefixLabel[] = loaded.prefixLabels(['Castlevania: Aria of Sorrow', null], { terms: 3, names });
  const label: [number[], string, number, number, string[], string, string | null] | undefined = labels[0] && [
    labels[0].prefix, labels[0].key, labels[0].items, labels[0].titled, labels[0].terms, labels[0].label, labels[0].name,
  ];
  const under: Uint32Array = loaded.selectPrefix('51/3');
  const fromCodes: PrefixLabel[] = await prefixLabels(new Uint16Array(6), { levels: 3, titles: ['a b', null], names: { '0': 'Zero' } });
  for (const t of [table, empty, fresh, loaded, fromBytes, fromBuffer]) t.free();
  void [assigned, counts, changed, cost, added, described, moved, line, shares, drift, files, tokenFiles, label, under, fromCodes, loaded.selectPrefix([51])];

  // @ts-expect-error: a token offset is a number
  loaded.toPrefixTreeJson({ tokenOffset: '100' });
  // @ts-expect-error: a table's header is read-only
  loaded.header = header;
  // @ts-expect-error: reassignedFrom may be null
  entries[0]!.reassignedFrom.toFixed();
  // @ts-expect-error: ids are numbers or strings
  await IdTable.assign(encoder, rows, { ids: [true] });
  // @ts-expect-error: reassign is a boolean
  await IdTable.create(encoder, { reassign: 'yes' });
  // @ts-expect-error: churn compares two tables
  loaded.churn(header);
  // @ts-expect-error: titles are strings (or null)
  loaded.prefixLabels([1, 2]);
}

/** Files of any size, batch by batch. */
export async function streaming(encoder: Encoder, file: File, stream: ReadableStream<Uint8Array>, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  const format: EmbeddingsFormat = 'npy';
  const read: ReadOptions = {
    format, name: 'x.npy', size: file.size, batchRows: 4096, signal: AbortSignal.timeout(60_000),
    onHeader: (h: NpyHeader) => h.rows * h.dim + h.dtype.length,
  };
  const inputs: ByteSourceInput[] = [file, stream, chunks, [new Uint8Array(8)], new Uint8Array(8), new ArrayBuffer(8)];
  for await (const batch of readEmbeddings(inputs[0]!, { ...read, dim: 768 })) {
    const b: EmbeddingsBatch = batch;
    const where: number[] = [b.start, b.count, b.dim, b.bytesRead, b.rows.length];
    const named: [ItemId[] | undefined, string[] | undefined, 'float32' | 'float16'] = [b.ids, b.titles, b.dtype];
    void [where, named];
  }
  for await (const batch of readEmbeddings(stream, { format: 'jsonl' })) void batch;
  const table = await IdTable.create(encoder);
  const onProgress = (p: StreamProgress): number => p.rowsDone + (p.totalRows ?? 0) + p.bytesRead + (p.totalBytes ?? 0);
  for await (const batch of encodeStream(encoder, file, { onProgress, batchRows: 2048 })) {
    const b: EncodedBatch = batch;
    const ids: Uint16Array = b.ids;
    await table.add(encoder, b.rows, { ids: b.itemIds, dim: b.dim });
    void [ids, b.start, b.count, b.dtype, b.titles];
  }
  const items: { ids: ItemId[]; titles: string[] } = await readItems(chunks, {
    name: 'items.jsonl', size: 1024, expectedRows: 3000, signal: new AbortController().signal,
    onProgress: ({ bytesRead, totalBytes }) => bytesRead / (totalBytes ?? 1),
  });
  table.free();
  void items;

  // @ts-expect-error: the formats are 'npy', 'jsonl' and 'csv'
  readEmbeddings(file, { format: 'parquet' });
  // @ts-expect-error: a source is bytes, a Blob or a stream, not a path
  readEmbeddings('embeddings.npy');
  // @ts-expect-error: encodeStream takes the encoder first
  encodeStream(file, encoder);
}

/** Titles to IDs, through a sentence encoder. */
export async function titles(file: Blob, bundle: ArrayBuffer): Promise<void> {
  await initTextWasm({ wasm: new URL('./rqvae_text_bg.wasm', import.meta.url) });
  await initTextWasm();
  const text: SentenceEncoder = await SentenceEncoder.loadDefault({ backend: 'cpu', threads: 2 });
  const own: SentenceEncoder = await SentenceEncoder.load(bundle, { backend: 'auto' });
  const hosted: SentenceEncoder = await SentenceEncoder.loadDefault({ url: new URL(defaultTextModelUrl) });
  const fetched: SentenceEncoder = await SentenceEncoder.load(await fetch(defaultTextModelUrl));
  const config: TextModelConfig = text.config;
  const { bert } = config;
  const sizes: number[] = [
    bert.vocab_size, bert.hidden_size, bert.num_hidden_layers, bert.num_attention_heads, bert.intermediate_size,
    bert.max_position_embeddings, bert.type_vocab_size, bert.layer_norm_eps, config.max_seq_length,
  ];
  const facts: [number, string, number, 'cpu' | 'webgpu', 'mean' | 'cls', boolean] = [
    text.dim, text.source, text.threads, text.backend, config.pooling, config.normalize,
  ];
  const tokens: Uint32Array = await text.tokenize('Super Mario 64');
  const { ids, titles } = await readTitles(file, {
    format: 'csv', field: 'title', name: 'shop.csv', size: file.size, signal: new AbortController().signal,
    onProgress: ({ bytesRead }) => bytesRead,
  });
  const embed: EmbedOptions = { batchSize: 256, onProgress: ({ done, total }) => done / total, signal: AbortSignal.timeout(60_000) };
  const vectors: Float32Array = await text.embed(titles, embed);
  const encoder = await Encoder.loadDefault({ model: 'minilm' });
  const named: ItemId[] = ids.map((id, row) => id ?? row);
  const { table } = await IdTable.assign(encoder, titles, { ids: named, textEncoder: text });
  await table.add(encoder, ['A new game'], {
    ids: ['sku-new'], textEncoder: text, onProgress: ({ done }) => done, signal: new AbortController().signal,
  });
  await table.add(encoder, vectors, { dim: text.dim });
  for (const e of [text, own, hosted, fetched]) e.free();
  encoder.free();
  table.free();
  void [sizes, facts, tokens];

  // @ts-expect-error: texts are strings
  await text.embed([1, 2]);
  // @ts-expect-error: a text, not a list of them
  await text.tokenize(['a', 'b']);
  // @ts-expect-error: a textEncoder is a SentenceEncoder, not an Encoder
  await IdTable.assign(encoder, titles, { textEncoder: encoder });
  // @ts-expect-error: readTitles reads JSON Lines or CSV, not .npy
  await readTitles(file, { format: 'npy' });
  // @ts-expect-error: an id may be missing: a row without one must be named
  const unnamed: ItemId[] = ids;
  void unnamed;
}

/** Failures: one error class, branched on by code. */
export async function failures(encoder: Encoder, rows: Float32Array): Promise<RqvaeErrorCode | undefined> {
  try {
    await encoder.encode(rows);
  } catch (e) {
    if (e instanceof CpuWorkerError) {
      const code: 'ERR_WORKER' = e.code;
      const name: 'CpuWorkerError' = e.name;
      return code ?? name;
    }
    if (e instanceof RqvaeError) {
      const code: RqvaeErrorCode = e.code;
      const name: string = e.name;
      if (code === 'ERR_WASM_TRAP' || code === 'ERR_TOO_LARGE') return code;
      // @ts-expect-error: no such code
      if (code === 'ERR_NOT_A_CODE') return undefined;
      void [name, e.message, e.stack, e.cause];
      return code;
    }
    throw e;
  }
  const mine = new RqvaeError('ERR_INPUT', 'my own check failed', { cause: new Error('why') });
  const error: Error = mine;
  void error;
  // @ts-expect-error: not one of the codes
  new RqvaeError('ERR_NOPE', 'message');
  // @ts-expect-error: made by the package only
  new CpuWorkerError('a worker died');
  // @ts-expect-error: the code is read-only
  mine.code = 'ERR_INTERNAL';
  return undefined;
}
