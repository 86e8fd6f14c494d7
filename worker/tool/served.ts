/**
 * The tools this Worker serves, by the slug a path or body names; any other answers Wiro's
 * not-found envelope (code 1), before any work.
 */
import { TOOLS, type Tool, toolOf } from '../../shared/tool';
import { ApiError, WiroCode } from '../errors';

/** Wiro's not-found envelope, for a model this Worker does not serve. */
export function notServed(): never {
  const served = TOOLS.map((tool) => tool.slug).join(', ');
  throw new ApiError(404, [{ code: WiroCode.notFound, message: `Tool not found: this Worker serves only ${served}` }]);
}

/** The tool a slug names, when this Worker serves it. */
export function servedTool(slug: string): Tool {
  return toolOf(slug) ?? notServed();
}
