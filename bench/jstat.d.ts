// The part of jstat (a dependency without type declarations) the gate's statistics use: the
// Student t distribution.
declare module 'jstat' {
  export const jStat: {
    studentt: {
      /** P(T ≤ x) for T ~ Student t with `dof` degrees of freedom. */
      cdf(x: number, dof: number): number;
      /** The p-quantile of Student t with `dof` degrees of freedom. */
      inv(p: number, dof: number): number;
    };
  };
}
