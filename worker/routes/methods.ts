/**
 * A known path asked with the wrong method answers 405 with `Allow`, in Wiro's envelope, rather
 * than a 404 that would say the path does not exist.
 *
 * @example run.all('/Task/Detail', methodNotAllowed('POST'));
 */
import { ApiError, WiroCode } from '../errors';

export function methodNotAllowed(...allowed: string[]) {
  const allow = allowed.join(', ');
  return function wrongMethod(c: { req: { method: string } }): never {
    throw new ApiError(
      405,
      [{ code: WiroCode.general, message: `${c.req.method} is not allowed here: use ${allow}` }],
      {
        headers: { allow },
      },
    );
  };
}
