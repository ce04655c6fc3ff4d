import { array, double, field, int, long, record, string, type Infer } from './avro.ts';
import { envelope, instrument } from './common.ts';

/** feat.vectors.v1: the features of one closed bar, computed from that bar and the bars before it only. */
export const FeatureVectorSchema = record('qt.feat.FeatureVector', {
  ...envelope,
  ...instrument,
  barId: field(string, { doc: 'id of the bar these features close on' }),
  openTime: field(long, { doc: 'open time of that bar' }),
  close: field(double, { doc: 'close price of that bar' }),
  featureSet: field(string, { doc: 'name and version of the feature set; names the columns of values' }),
  values: field(array(double), { doc: 'feature values in the order of the feature set' }),
  windowLength: field(int, { doc: 'L: number of bars in window' }),
  windowChannels: field(int, { doc: 'C: values per bar in window' }),
  window: field(array(double), { doc: 'last L bars, oldest first, row-major L x C' }),
}, 'Features of one bar.');
/** feat.vectors.v1 message. */
export type FeatureVector = Infer<typeof FeatureVectorSchema>;
