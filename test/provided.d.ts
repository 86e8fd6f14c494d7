/** Values the tests' global setups provide (`project.provide`) and tests read with `inject`. */
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The Wiro emulator's origin, e.g. http://127.0.0.1:43123 (its API is under /v1). */
    emulatorUrl: string;
    /** An emulator of an "API key only" Wiro project (no secret, no signature). */
    keyOnlyEmulatorUrl: string;
  }
}
