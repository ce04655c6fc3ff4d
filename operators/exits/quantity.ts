/** Relative size below which a quantity counts as zero (float dust from ladder fractions and partial fills). */
export const QTY_EPS = 1e-9;
