/**
 * JSON-RPC 2.0 frame routing. json-rpc-2.0's server dispatches single requests; frames, batches
 * and malformed elements are handled here, because its own batch handling collapses a one-reply
 * batch into an object and throws on null elements.
 */
import {
  JSONRPCErrorCode, JSONRPCServer, createJSONRPCErrorResponse, createJSONRPCSuccessResponse, isJSONRPCRequest, type JSONRPCResponse,
} from 'json-rpc-2.0';

export { JSONRPCErrorCode };

/**
 * A method answered from its params (and the frame's bytes when the request came alone in its
 * frame, so spans found in them are the request's); throw a JSONRPCErrorException to answer an error.
 */
export type HotMethod = (params: unknown, frame: Buffer | undefined) => Promise<unknown>;

/**
 * json-rpc-2.0's server plus "hot" methods this router calls directly. The library keeps each
 * request (and so every event in it) alive until its answer, behind a few promises per call; a
 * hot method is handed only its params and the router keeps only the id, with the same answers.
 */
export class RpcServer<P = void> extends JSONRPCServer<P> {
  readonly hot = new Map<string, HotMethod>();
  addHotMethod(name: string, method: HotMethod) { this.hot.set(name, method); }
}

const PARSE_ERROR = JSON.stringify(createJSONRPCErrorResponse(null, JSONRPCErrorCode.ParseError, 'Parse error: the frame is not valid JSON'));

/** Answers one text frame (a string, or its UTF-8 bytes); resolves to the text to send back, or undefined when nothing is due. */
export function answerFrame<P>(server: JSONRPCServer<P>, frame: string | Buffer, params: P): Promise<string | undefined> {
  // Not async: nothing here outlives the parse but what the answer needs.
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof frame === 'string' ? frame : frame.toString('utf8'));
  } catch {
    return Promise.resolve(PARSE_ERROR);
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) return Promise.resolve(JSON.stringify(invalid(null, 'an empty batch is not a request')));
    return Promise.all(parsed.map((el) => answerOne(server, el, params, undefined)))
      .then((all) => { const replies = all.filter((r): r is JSONRPCResponse => r !== null); return replies.length ? JSON.stringify(replies) : undefined; });
  }
  return answerOne(server, parsed, params, typeof frame === 'string' ? undefined : frame).then((reply) => (reply ? JSON.stringify(reply) : undefined));
}

function answerOne<P>(server: JSONRPCServer<P>, el: unknown, params: P, frame: Buffer | undefined): Promise<JSONRPCResponse | null> {
  if (!isWellFormed(el)) {
    const id = el && typeof el === 'object' && 'id' in el && (typeof (el as any).id === 'string' || typeof (el as any).id === 'number') ? (el as any).id : null;
    return Promise.resolve(invalid(id, 'expected {"jsonrpc":"2.0","method":string,"params"?:object|array,"id"?:string|number}'));
  }
  const request = el as { id?: string | number | null; method: string; params?: unknown };
  const hot = server instanceof RpcServer ? server.hot.get(request.method) : undefined;
  return hot ? answerHot(server, hot, request.id, request.params, frame) : Promise.resolve(server.receive(request as any, params));
}

/** Calls a hot method; success and errors are answered as json-rpc-2.0 answers them, nothing for a notification. */
function answerHot<P>(server: JSONRPCServer<P>, method: HotMethod, id: string | number | null | undefined, params: unknown, frame: Buffer | undefined): Promise<JSONRPCResponse | null> {
  const answer = (e: unknown) => (id === undefined ? null : server.mapErrorToJSONRPCErrorResponse(id, e));
  let pending: Promise<unknown>;
  try {
    pending = method(params, frame);
  } catch (e) {
    return Promise.resolve(answer(e));
  }
  return pending.then((result) => (id === undefined ? null : createJSONRPCSuccessResponse(id, result)), answer);
}

function isWellFormed(el: unknown): boolean {
  if (!el || typeof el !== 'object' || Array.isArray(el)) return false;
  const r = el as Record<string, unknown>;
  const idOk = !('id' in r) || r.id === null || typeof r.id === 'string' || typeof r.id === 'number';
  const paramsOk = r.params === undefined || (typeof r.params === 'object' && r.params !== null);
  return r.jsonrpc === '2.0' && typeof r.method === 'string' && idOk && paramsOk && isJSONRPCRequest(r as any);
}

function invalid(id: string | number | null, why: string): JSONRPCResponse {
  return createJSONRPCErrorResponse(id, JSONRPCErrorCode.InvalidRequest, `Invalid Request: ${why}`);
}
