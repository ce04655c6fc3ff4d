/** Errors of model loading and serving: named classes with structured fields and a `retriable` flag. */

/** The model card does not match what the pipeline serves (feature list, classes, checksum, input shape...). */
export class ModelCardMismatchError extends Error {
  override readonly name = 'ModelCardMismatchError';
  readonly retriable = false;
  constructor(
    readonly dir: string,
    readonly field: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`model ${dir}: card field ${field} is ${actual}, expected ${expected}`);
  }
}

/** The card file is missing, not JSON, or does not satisfy the card schema. */
export class ModelCardInvalidError extends Error {
  override readonly name = 'ModelCardInvalidError';
  readonly retriable = false;
  constructor(
    readonly file: string,
    readonly issues: readonly string[],
  ) {
    super(`model card ${file} is invalid: ${issues.join('; ')}`);
  }
}

/** The model store folder does not exist or holds no loadable version of a member. */
export class ModelStoreError extends Error {
  override readonly name = 'ModelStoreError';
  readonly retriable = false;
  constructor(
    readonly dir: string,
    readonly reason: 'NOT_FOUND' | 'NO_VERSION',
  ) {
    super(`model store ${dir}: ${reason === 'NOT_FOUND' ? 'folder not found' : 'no version with a card.json'}`);
  }
}

/** A predict() call whose batch does not have rows x features values, or whose output has the wrong shape. */
export class ModelInputError extends Error {
  override readonly name = 'ModelInputError';
  readonly retriable = false;
  constructor(
    readonly member: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`model ${member}: got ${actual}, expected ${expected}`);
  }
}
