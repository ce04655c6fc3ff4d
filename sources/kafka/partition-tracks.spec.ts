import { describe, expect, it } from 'vitest';
import { PartitionTracks } from './partition-tracks.ts';

describe('PartitionTracks', () => {
  it('commits a dead-lettered record only once every record delivered before it is committed', () => {
    const tracks = new PartitionTracks();
    const t = tracks.at('md.bars.1m.v1', 3, 10);
    t.delivered(10);
    t.delivered(11);
    // 12 is dead-lettered while 10 and 11 are still with the stage: committing 12 would commit them too.
    expect(t.skip(12)).toBeUndefined();
    t.delivered(13);
    // The stage commits 11: the commit goes on over 12, not over 13 (still with the stage).
    expect(t.commit(11)).toBe(12);
    expect(t.commit(13)).toBe(13);
  });

  it('commits a dead-lettered record at once when nothing before it is outstanding', () => {
    const t = new PartitionTracks().at('md.bars.1m.v1', 0, 5);
    expect(t.skip(5)).toBe(5);
    expect(t.skip(6)).toBe(6);
    t.delivered(7);
    expect(t.skip(8)).toBeUndefined();
    expect(t.commit(7)).toBe(8);
  });

  it('chains over consecutive dead letters and leaves a commit below them as it is', () => {
    const t = new PartitionTracks().at('md.bars.1m.v1', 0, 0);
    t.delivered(0);
    t.delivered(1);
    expect(t.skip(2)).toBeUndefined();
    expect(t.skip(3)).toBeUndefined();
    expect(t.commit(0)).toBe(0);
    expect(t.commit(1)).toBe(3);
  });

  it('starts a new track when the consumer goes back to a record already seen, and keeps one per partition', () => {
    const tracks = new PartitionTracks();
    const a = tracks.at('md.bars.1m.v1', 1, 20);
    a.delivered(20);
    expect(a.skip(21)).toBeUndefined();
    expect(tracks.at('md.bars.1m.v1', 1, 22)).toBe(a);
    expect(tracks.at('md.bars.1m.v1', 2, 22)).not.toBe(a);
    // Back to 21 (resumed from the committed offset): the old skips are forgotten, 21 may come again.
    const b = tracks.at('md.bars.1m.v1', 1, 21);
    expect(b).not.toBe(a);
    expect(b.commit(25)).toBe(25);
    expect(tracks.get('md.bars.1m.v1', 1)).toBe(b);
    tracks.clear();
    expect(tracks.get('md.bars.1m.v1', 1)).toBeUndefined();
  });
});
