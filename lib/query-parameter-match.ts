import type { Construct } from 'constructs';

/** What {@link QueryParameterMatch.bind} returns. */
export interface QueryParameterMatchConfig {
  /** The model's query parameter match. */
  readonly queryParameterMatch: { name: string; match?: { exact: string } };
}

/** A condition on a query parameter. */
export abstract class QueryParameterMatch {
  /** The parameter equals `queryParameterValue`. */
  static valueIs(queryParameterName: string, queryParameterValue: string): QueryParameterMatch {
    return new (class extends QueryParameterMatch {
      bind(_scope: Construct): QueryParameterMatchConfig {
        return { queryParameterMatch: { name: queryParameterName, match: { exact: queryParameterValue } } };
      }
    })();
  }
  /** Weft: the parameter is present, whatever its value. */
  static isPresent(queryParameterName: string): QueryParameterMatch {
    return new (class extends QueryParameterMatch {
      bind(_scope: Construct): QueryParameterMatchConfig {
        return { queryParameterMatch: { name: queryParameterName } };
      }
    })();
  }
  /** Renders the match. */
  abstract bind(scope: Construct): QueryParameterMatchConfig;
}
