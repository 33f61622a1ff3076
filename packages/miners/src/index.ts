// @switchyard/miners: drivers for the farm's ASIC firmwares, behind one MinerDriver interface.
export * from './driver.ts';
export * from './telemetry.ts';

// --- cgminer RPC transport, stock Antminer and LuxOS drivers -------------------------------
export {
  rpcCommand,
  rpcRequest,
  rpcExchange,
  rpcJoined,
  toRpcReply,
  joinUnsupported,
  forgetJoinSupport,
  RpcError,
  type RpcOptions,
  type RpcReply,
  type RpcJoinedResult,
} from './rpc/rpc-client.ts';
export {
  parseLenientJson,
  repairJson,
  LENIENT_JSON_DEFAULT_MAX_DEPTH,
  LENIENT_JSON_DEFAULT_MAX_LENGTH,
  type LenientJsonOptions,
} from './rpc/lenient-json.ts';
export * from './rpc/fields.ts';
export * from './rpc/cgminer-telemetry.ts';
export * from './power-estimate.ts';
export { httpRequest, type HttpRequestOptions, type HttpResponse } from './web/http-client.ts';
export {
  DigestClient,
  digestAuthorization,
  parseDigestChallenges,
  chooseChallenge,
  isSupportedAlgorithm,
  type DigestChallenge,
  type DigestResponseInput,
} from './web/digest-auth.ts';
export * from './antminer/antminer-web.ts';
export * from './antminer/antminer-parse.ts';
export * from './antminer/antminer-driver.ts';
export * from './luxos/luxos-session.ts';
export * from './luxos/luxos-parse.ts';
export * from './luxos/luxos-driver.ts';
// --- end cgminer RPC, Antminer, LuxOS ------------------------------------------------------

// --- Braiins OS (REST) and Whatsminer (API v2 and v3) drivers ------------------------------
export {
  BraiinsDriver,
  createBraiinsDriver,
  BRAIINS_DEFAULT_PORT,
  type BraiinsDriverOptions,
} from './braiins/braiins-driver.ts';
export {
  parseBraiinsLogin,
  parseBraiinsStats,
  parseBraiinsDetails,
  parseBraiinsTunerState,
  parseBraiinsHashboards,
  parseBraiinsFans,
  parseBraiinsPools,
  parseBraiinsConstraints,
  type BraiinsLogin,
  type BraiinsStats,
  type BraiinsDetails,
  type BraiinsTuner,
  type BraiinsPowerBounds,
} from './braiins/braiins-parse.ts';
export {
  httpExchange,
  minerAgent,
  type HttpTarget as KeepAliveHttpTarget,
  type HttpReply as KeepAliveHttpReply,
  type HttpRequest as KeepAliveHttpRequest,
} from './braiins/bounded-http.ts';
export {
  WhatsminerDriver,
  createWhatsminerDriver,
  WHATSMINER_V2_PORT,
  WHATSMINER_V3_PORT,
  WHATSMINER_POWER_PERCENT,
  type WhatsminerDriverOptions,
} from './whatsminer/whatsminer-driver.ts';
export type { WhatsminerIdentity, WhatsminerApiGeneration } from './whatsminer/whatsminer-api.ts';
export { WhatsminerV2, WM_V2 } from './whatsminer/whatsminer-v2.ts';
export { WhatsminerV3, WM_V3, V3_ACCOUNTS } from './whatsminer/whatsminer-v3.ts';
export { v3Exchange, v3Request, encodeV3Frame, type V3Target } from './whatsminer/whatsminer-v3-transport.ts';
export * from './whatsminer/whatsminer-parse.ts';
export { md5crypt, md5cryptHash, normalizeMd5Salt } from './whatsminer/md5crypt.ts';
export {
  deriveV2Credentials,
  v2AesKey,
  aes256EcbEncrypt,
  aes256EcbDecrypt,
  encryptV2Command,
  decryptV2Text,
  v3Token,
  type V2TokenMsg,
  type V2Credentials,
} from './whatsminer/whatsminer-crypto.ts';
export { normalizeMac } from './json-readers.ts';
// --- end Braiins OS, Whatsminer --------------------------------------------------------------

// ---------------------------------------------------------------- factory, detection, poller
export { createMinerDriver, FACTORY_CREDENTIALS, type MinerDriverConfig } from './driver-factory.ts';
export { detectMiner, classifyVersionReply, type DetectOptions, type DetectResult } from './detect.ts';
export * from './poller/fleet-poller.ts';
export * from './poller/observations.ts';
export {
  ThreadedFleetPoller,
  partitionByFleet,
  type ThreadedPollerOptions,
} from './poller/threaded-poller.ts';
