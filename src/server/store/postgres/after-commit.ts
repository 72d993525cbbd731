/** What one transaction (or one report of a group commit) runs once it has committed. */
export class AfterCommit {
  readonly callbacks: (() => void)[] = [];
  ended = false;

  run(): void {
    this.ended = true;
    for (const fn of this.callbacks) {
      try {
        fn();
      } catch {
        // an announcement that fails must not turn a committed transaction into an error
      }
    }
  }
}
