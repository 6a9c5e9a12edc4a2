/**
 * JSON-RPC 2.0 frame routing. json-rpc-2.0's server dispatches single requests; frames, batches
 * and malformed elements are handled here, because its own batch handling collapses a one-reply
 * batch into an object and throws on null elements.
 */
import { JSONRPCErrorCode, JSONRPCServer, createJSONRPCErrorResponse, isJSONRPCRequest, type JSONRPCResponse } from 'json-rpc-2.0';

export { JSONRPCErrorCode };

/** Answers one text frame; resolves to the text to send back, or undefined when nothing is due. */
export async function answerFrame<P>(server: JSONRPCServer<P>, text: string, params: P): Promise<string | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return JSON.stringify(createJSONRPCErrorResponse(null, JSONRPCErrorCode.ParseError, 'Parse error: the frame is not valid JSON'));
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) return JSON.stringify(invalid(null, 'an empty batch is not a request'));
    const replies = (await Promise.all(parsed.map((el) => answerOne(server, el, params)))).filter((r): r is JSONRPCResponse => r !== null);
    return replies.length ? JSON.stringify(replies) : undefined;
  }
  const reply = await answerOne(server, parsed, params);
  return reply ? JSON.stringify(reply) : undefined;
}

async function answerOne<P>(server: JSONRPCServer<P>, el: unknown, params: P): Promise<JSONRPCResponse | null> {
  if (!isWellFormed(el)) {
    const id = el && typeof el === 'object' && 'id' in el && (typeof (el as any).id === 'string' || typeof (el as any).id === 'number') ? (el as any).id : null;
    return invalid(id, 'expected {"jsonrpc":"2.0","method":string,"params"?:object|array,"id"?:string|number}');
  }
  return server.receive(el as any, params);
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
